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
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeAlias, TypeVar

import lmdb

from . import directory, faults
from .errors import CorruptJournal, JournalClosed, JournalError, MapGrowthFailed

T = TypeVar("T")
Txn: TypeAlias = "lmdb.Transaction[bytes]"  # every transaction runs with buffers=False: values are bytes
Dbs: TypeAlias = "dict[str, lmdb._Database]"

DEFAULT_MAP_SIZE = 256 << 20
MAX_READERS = 1024
DB_NAMES = (b"events", b"index", b"streams", b"snapshots", b"meta")
CREATION_ID = b"creation_id"  # in the meta database: the id of the directory's format marker


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
        self._sync = sync
        self._create = create
        self.frozen = False  # opened without a lock file: a reader on a read-only file system
        # Writers notify this after each commit; in-process subscriptions wait on it.
        self.committed = threading.Condition()
        self.commit_count = 0
        self.closed = False  # set (under the exclusive lock) when the last opener releases it
        self.broken: JournalError | None = None  # set when the environment was lost and could not be reopened
        # Before LMDB maps anything: the marker, the data file against its meta pages, lock.mdb.
        self.marker, existed = directory.check_files(path, writable=create)
        directory.check_lock_file(path)
        self.env = self._open_env(map_size or DEFAULT_MAP_SIZE)
        try:
            directory.check_lock_file(path)  # again: it may have gone while LMDB opened it
            # Slots left by killed readers pin old pages and fill the table; clear them now.
            if not self.frozen:
                self.env.reader_check()
            self.dbs: Dbs = self._open_dbs(create, existed)
        except lmdb.Error as e:
            self.env.close()
            raise faults.lmdb_error(path, "opening its databases", e) from e
        except BaseException:
            self.env.close()
            raise

    def _open_env(self, map_size: int) -> lmdb.Environment:
        new = [name for name in (directory.DATA, directory.LOCK) if not os.path.exists(os.path.join(self.path, name))]
        try:
            env = lmdb.open(
                self.path,
                map_size=map_size,
                max_dbs=len(DB_NAMES),
                max_readers=MAX_READERS,
                subdir=True,
                # "nosync": LMDB keeps integrity (no writemap, ordered ext4) but may lose the last commits.
                sync=self._sync,
                metasync=self._sync,
                readahead=False,
                lock=True,
                mode=directory.FILE_MODE,
            )
        except lmdb.Error as e:
            if self._create or "Read-only file system" not in str(e):
                raise faults.lmdb_error(self.path, "opening the LMDB environment", e) from e
            # A reader on a read-only file system (a mounted backup, a snapshot): no writer can
            # change it there, so it is read without the lock file LMDB cannot create.
            try:
                env = lmdb.open(self.path, map_size=map_size, max_dbs=len(DB_NAMES), subdir=True,
                                readonly=True, lock=False, readahead=False)
            except lmdb.Error as e2:
                raise faults.lmdb_error(self.path, "opening the LMDB environment", e2) from e2
            self.frozen = True
            return env
        for name in new:  # LMDB filters its mode through the umask; make new files exactly 0600
            try:
                os.chmod(os.path.join(self.path, name), directory.FILE_MODE)
            except OSError:
                pass
        return env

    def _open_dbs(self, create: bool, existed: bool) -> Dbs:
        names = self._named_dbs()
        complete = names >= set(DB_NAMES)
        if self.marker is not None and not complete:
            raise CorruptJournal(os.path.join(self.path, directory.DATA), "the journal's databases are missing from data.mdb")
        if existed and names and not complete:
            raise JournalError(f"{self.path!r} is an LMDB environment but not a journal (it has no {', '.join(n.decode() for n in DB_NAMES)} databases)")
        if complete:
            dbs = {name.decode(): self.env.open_db(name, create=False) for name in DB_NAMES}
            if self.marker is not None:
                self._check_creation_id(dbs)
            return dbs
        if not create:
            raise JournalError(f"{self.path!r} holds no journal yet; open it once without readonly=True to create it")
        # A new journal: every database and its creation id in one transaction, fsynced before
        # the marker is written, so a crash leaves either no journal or a whole one.
        with self.env.begin(write=True) as txn:
            dbs = {name.decode(): self.env.open_db(name, txn=txn, create=True) for name in DB_NAMES}
            txn.put(CREATION_ID, uuid.uuid4().hex.encode(), db=dbs["meta"])
        self.env.sync(True)
        return dbs

    def _named_dbs(self) -> set[bytes]:
        with self.env.begin() as txn:
            return {bytes(key) for key in txn.cursor().iternext(values=False)}

    def _check_creation_id(self, dbs: Dbs) -> None:
        assert self.marker is not None
        with self.env.begin() as txn:
            stored = txn.get(CREATION_ID, db=dbs["meta"])
        if stored is None or stored.decode(errors="replace") != self.marker.creation_id:
            raise CorruptJournal(
                os.path.join(self.path, directory.DATA),
                f"data.mdb is not the one this directory's marker was created with (creation id "
                f"{stored.decode(errors='replace') if stored else 'missing'}, the marker says {self.marker.creation_id}): "
                "it was copied in from another journal or from before the marker",
                "Put back the data.mdb that belongs here (from a backup), or move this data.mdb into a directory of its own.",
            )

    def ensure_marker(self) -> None:
        """Give a journal without a marker (new, or from before markers existed) its marker."""
        if self.marker is not None:
            return
        meta = self.dbs["meta"]
        with self.env.begin(write=True) as txn:
            stored = txn.get(CREATION_ID, db=meta)
            if stored is None:  # a journal from before the marker
                stored = uuid.uuid4().hex.encode()
                txn.put(CREATION_ID, stored, db=meta)
        self.env.sync(True)
        self.marker = directory.write_marker(self.path, stored.decode())

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
                    if self.broken is not None:
                        raise self.broken
                    with self.env.begin(buffers=False) as txn:
                        return fn(txn)
            except lmdb.MapResizedError:
                self.adopt_map_size()
            except lmdb.Error as e:
                if isinstance(e, (lmdb.BadDbiError, lmdb.BadRslotError)):
                    directory.check_lock_file(self.path)  # the usual cause: raises LockFileReplaced
                raise faults.lmdb_error(self.path, "reading", e) from e

    def adopt_map_size(self) -> None:
        """Another process grew the map; take its new size."""
        with self._lock.exclusive():
            if not self.closed and self.broken is None:
                size = self.env.info()["map_size"]
                try:
                    self.env.set_mapsize(0)
                except lmdb.Error as e:
                    self._reopen(size)
                    raise MapGrowthFailed(
                        f"the journal at {self.path!r} could not map the size another process grew it to ({e}); "
                        "free memory or raise the address-space limit (ulimit -v), then retry"
                    ) from e

    def grow(self) -> None:
        """Double the map. Called by the writer thread with its transaction aborted.

        Raises :class:`MapGrowthFailed` (the map keeps its old size, reads go on) or, if the
        environment cannot even be reopened, the error every later use of it gets.
        """
        with self._lock.exclusive():
            size = self.env.info()["map_size"]
            try:
                self.env.set_mapsize(size * 2)
            except lmdb.Error as e:
                self._reopen(size)
                raise MapGrowthFailed(
                    f"the journal at {self.path!r} is full at {size >> 20} MiB and its map could not grow to "
                    f"{(size * 2) >> 20} MiB ({e}); nothing of this write is acknowledged. Free memory or raise the "
                    "address-space limit (ulimit -v); the next write tries to grow it again"
                ) from e

    def _reopen(self, map_size: int) -> None:
        """py-lmdb closes an environment whose remap failed: open it again at the old size.
        Runs under the exclusive lock, so no transaction of this process is active."""
        try:
            self.env.close()
        except lmdb.Error:
            pass
        try:
            self.env = self._open_env(map_size)
            fresh = {name.decode(): self.env.open_db(name, create=False) for name in DB_NAMES}
        except (JournalError, lmdb.Error) as e:
            self.broken = JournalError(f"the journal at {self.path!r} lost its LMDB environment and could not reopen it ({e}); "
                                       "close it and open it again")
            raise self.broken from e
        self.dbs.clear()
        self.dbs.update(fresh)  # in place: every journal object on this storage holds this dict

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
