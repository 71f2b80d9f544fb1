"""The LMDB environment behind a journal directory, shared by every opener in this process.

LMDB forbids opening one environment twice in a process, so openers of the same directory
share one :class:`Storage`. It owns the traps of LMDB in one place:

* the map is grown only while no transaction of this process is active (``grow``), which is
  why every read runs inside ``reading()`` and holds no transaction across a ``yield``;
* another process growing the map shows up here as ``MapResizedError``, adopted the same way;
* an environment inherited across ``fork`` is never touched by the child.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeAlias, TypeVar

import lmdb

from .errors import JournalClosed, JournalError

T = TypeVar("T")
Txn: TypeAlias = "lmdb.Transaction[bytes]"  # every transaction runs with buffers=False: values are bytes
Dbs: TypeAlias = "dict[str, lmdb._Database]"

DEFAULT_MAP_SIZE = 256 << 20
MAX_READERS = 1024
DB_NAMES = (b"events", b"index", b"streams", b"snapshots", b"meta")


class _RWLock:
    """Many readers or one grower; a waiting grower blocks new readers so it cannot starve."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._growing = False
        self._waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._growing or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._growing or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._growing = True
        try:
            yield
        finally:
            with self._cond:
                self._growing = False
                self._cond.notify_all()


class Storage:
    """One open LMDB environment plus what every journal object on it shares."""

    def __init__(self, path: str, map_size: int | None, create: bool, sync: bool) -> None:
        self.path = path
        self.pid = os.getpid()
        self.refs = 0
        self._lock = _RWLock()
        # Writers notify this after each commit; in-process subscriptions wait on it.
        self.committed = threading.Condition()
        self.commit_count = 0
        self.closed = False  # set (under the exclusive lock) when the last opener releases it
        if not create and not os.path.exists(os.path.join(path, "data.mdb")):
            raise JournalError(
                f"no journal at {path!r} (no data.mdb there); check the path, or open it once without readonly=True to create it"
            )
        try:
            self.env = lmdb.open(
                path,
                map_size=map_size or DEFAULT_MAP_SIZE,
                max_dbs=len(DB_NAMES),
                max_readers=MAX_READERS,
                subdir=True,
                # "nosync": LMDB keeps integrity (no writemap, ordered ext4) but may lose the last commits.
                sync=sync,
                metasync=sync,
                readahead=False,
                lock=True,
            )
        except lmdb.Error as e:
            raise JournalError(f"cannot open the journal at {path!r}: {e}") from e
        # Slots left by killed readers pin old pages and fill the table; clear them now.
        self.env.reader_check()
        try:
            self.dbs: Dbs = {name.decode(): self.env.open_db(name, create=create) for name in DB_NAMES}
        except lmdb.NotFoundError as e:
            self.env.close()
            raise JournalError(f"{path!r} is an LMDB environment but not a journal: {e}") from e

    @property
    def forked(self) -> bool:
        return self.pid != os.getpid()

    def read(self, fn: Callable[[Txn], T]) -> T:
        """Run ``fn`` in a short read transaction and return its result."""
        while True:
            if self.forked:
                raise JournalClosed("this journal was opened before fork() and cannot be used in the child; open journals only after forking")
            try:
                with self._lock.shared():
                    # Checked under the lock: ``release`` closes the env only once no read is running.
                    if self.closed:
                        raise JournalClosed(f"journal {self.path!r} is closed; open it again with journal.open()")
                    with self.env.begin(buffers=False) as txn:
                        return fn(txn)
            except lmdb.MapResizedError:
                self.adopt_map_size()

    def adopt_map_size(self) -> None:
        """Another process grew the map; take its new size."""
        with self._lock.exclusive():
            if not self.closed:
                self.env.set_mapsize(0)

    def grow(self) -> None:
        """Double the map. Called by the writer thread with its transaction aborted."""
        with self._lock.exclusive():
            self.env.set_mapsize(self.env.info()["map_size"] * 2)

    def notify_commit(self) -> None:
        with self.committed:
            self.commit_count += 1
            self.committed.notify_all()


_registry: dict[str, Storage] = {}
_registry_lock = threading.Lock()


def acquire(path: str, map_size: int | None, create: bool, sync: bool) -> Storage:
    """Open (or share) the environment of ``path``; the first opener in the process sets its sync mode."""
    key = os.path.realpath(path)
    with _registry_lock:
        storage = _registry.get(key)
        if storage is None or storage.forked:
            storage = Storage(key, map_size, create, sync)
            _registry[key] = storage
        storage.refs += 1
        return storage


def release(storage: Storage) -> None:
    with _registry_lock:
        storage.refs -= 1
        if storage.refs == 0 and not storage.forked:
            _registry.pop(storage.path, None)
            # Wait out reads still running on other threads: closing the env under them fails
            # them with raw LMDB errors (or worse); later reads see ``closed`` and raise JournalClosed.
            with storage._lock.exclusive():
                storage.closed = True
                storage.env.close()


def _forget_after_fork() -> None:
    # The child must not close or reuse the parent's environment; start with an empty registry
    # (and a fresh lock: another thread may have held it at the moment of the fork).
    global _registry_lock
    _registry.clear()
    _registry_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
