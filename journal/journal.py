"""The :class:`Journal`: an append-only event log with per-stream seqs and one global position."""

from __future__ import annotations

import functools
import os
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import lmdb

from . import codec, directory, faults
from .common import Prepared as _Prepared
from .common import as_set as _as_set
from .common import decode_snapshot, encode_snapshot_parts, expectation_fails, prepare_batch
from .common import prepare as _prepare
from .errors import JournalError, ReadOnlyJournal, WrongExpectedVersion
from .protocol import EventJournal, LockOwner
from .reading import READ_CHUNK, StorageReads, stream_row
from .records import ANY, AppendResult, AtomicWrite, Event, ExpectedSeq, Rejected, Snapshot, StoredSize, VerifyReport
from .snapshots import event_bytes, matching_snapshots, snapshot_bytes
from .storage import Storage, acquire, release
from .subscription import Subscription
from .writer import TxnState, Writer

__all__ = ["READ_CHUNK", "Journal", "open"]

DURABILITIES = ("sync", "nosync")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
T = TypeVar("T")


def open(
    path: str | os.PathLike[str],
    *,
    durability: str = "sync",
    readonly: bool = False,
    map_size: int | None = None,
) -> EventJournal:
    """Open the journal in directory ``path`` (created if missing, unless ``readonly``), or, for a
    ``postgresql://`` URL, the PostgreSQL journal in that database (see ``journal.postgres``).

    ``durability="sync"`` (default): an append returns only after its transaction is fsynced.
    ``"nosync"``: appends are not fsynced (flushed after a second idle); an OS crash may lose the
    last commits but never corrupts. Only one process may open a journal for writing; any number
    may open it with ``readonly=True``, also while the writer runs.
    """
    if isinstance(path, str) and path.startswith(POSTGRES_SCHEMES):
        if map_size is not None:
            raise ValueError("map_size is an LMDB setting; a PostgreSQL journal has no map to size")
        try:
            from .postgres import open_postgres
        except ImportError as e:
            raise JournalError(f"a PostgreSQL journal needs psycopg 3: pip install 'mob-actors[postgres]' ({e})") from e
        return open_postgres(path, durability=durability, readonly=readonly)
    return Journal(os.fspath(path), durability=durability, readonly=readonly, map_size=map_size)


class Journal(StorageReads):
    """An open journal. Thread-safe; use it as a context manager or call :meth:`close`.

    Its reads (``read``, ``read_all``, ``streams``, ``head``, ``highest_seq``) are in
    ``journal/reading.py``; the lifecycle surface both backends share is ``common.Opener``.
    """

    _REPR_NAME = "journal.Journal"

    def __init__(self, path: str, *, durability: str = "sync", readonly: bool = False, map_size: int | None = None) -> None:
        if durability not in DURABILITIES:
            raise ValueError(f"durability must be one of {DURABILITIES}, got {durability!r}")
        self.path = path
        self.durability = durability
        self.readonly = readonly
        self._upcasters = {}
        self._lock_fd: int | None = None
        self._writer: Writer | None = None
        self._closed = False
        self._locks: set[str] = set()
        if not readonly:
            directory.make_directory(path)
            self._lock_fd = directory.lock_for_writing(path)
        try:
            self._storage: Storage = acquire(path, map_size, create=not readonly, sync=durability == "sync")
        except BaseException:
            self._unlock()
            raise
        if self._lock_fd is not None:
            try:
                self._storage.ensure_marker()
                directory.record_lock_file(path, self._lock_fd)
            except lmdb.Error as e:
                release(self._storage)
                self._unlock()
                raise faults.lmdb_error(path, "writing the format marker", e) from e
            except BaseException:
                release(self._storage)
                self._unlock()
                raise
        self._dbs = self._storage.dbs
        if not readonly:
            self._writer = Writer(self._storage, durable=durability == "sync")

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Commit what is queued, stop the writer and release the directory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.close()
        with self._storage.committed:  # wake subscriptions so they see the close
            self._storage.committed.notify_all()
        release(self._storage)
        self._unlock()

    def _where(self) -> str:
        return repr(self.path)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _write(self, apply: Callable[[TxnState], T]) -> T:
        self._check_open()
        if self._writer is None:
            raise ReadOnlyJournal(f"journal {self.path!r} was opened with readonly=True; open it without readonly to write")
        result: T = self._writer.submit(apply)
        return result

    # -- appending ---------------------------------------------------------------------------

    def append(self, stream_id: str, events: Iterable[Event], *, expected_seq: ExpectedSeq = ANY) -> AppendResult:
        """Append ``events`` to ``stream_id`` atomically; return once durable.

        Raises :class:`WrongExpectedVersion` or :class:`EventRejected` with nothing written.
        """
        prepared = _prepare(stream_id, events, expected_seq)
        result = self._write(lambda state: _apply_write(state, prepared))
        if isinstance(result, Exception):
            raise result
        return result

    def append_batch(self, writes: Iterable[AtomicWrite]) -> list[AppendResult | Rejected]:
        """Apply several atomic writes in one commit; a rejected write does not stop the others."""
        prepared = prepare_batch(writes)

        def apply(state: TxnState) -> list[AppendResult | Rejected]:
            out: list[AppendResult | Rejected] = []
            for p in prepared:
                if isinstance(p, Rejected):
                    out.append(p)
                    continue
                r = _apply_write(state, p)
                out.append(Rejected(p.stream_id, r) if isinstance(r, Exception) else r)
            return out

        return self._write(apply)

    def delete_to(self, stream_id: str, seq: int) -> None:
        """Delete events ``1..seq`` of a stream. Its highest seq is never lowered."""
        raw = codec.stream_bytes(stream_id)

        def apply(state: TxnState) -> None:
            highest, deleted_to = stream_row(state.txn, self._dbs, raw)
            upto = min(seq, highest)
            for s in range(deleted_to + 1, upto + 1):
                key = codec.seq_key(raw, s)
                pos = state.txn.pop(key, db=self._dbs["index"])
                if pos is not None:
                    state.txn.delete(pos, db=self._dbs["events"])
            if upto > deleted_to:
                state.txn.put(raw, codec.pack([highest, upto]), db=self._dbs["streams"])

        self._write(apply)

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(self, after: int = 0, *, types: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> Subscription:
        """Yield what exists after ``after``, then each new event as it is committed, until closed."""
        self._check_open()
        return Subscription(self._scan, lambda: self._closed, self._storage, after, _as_set(types), _as_set(tags))

    # -- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, stream_id: str, seq: int, state: Any, metadata: dict[str, Any] | None = None) -> None:
        """Save ``state`` as the stream's state at ``seq`` (overwriting one saved at the same seq)."""
        key = codec.seq_key(codec.stream_bytes(stream_id), seq)
        body = encode_snapshot_parts(stream_id, seq, state, metadata)

        def apply(state_: TxnState) -> None:
            state_.txn.put(key, codec.encode_snapshot(state_.now_ms, body[0], body[1]), db=self._dbs["snapshots"])

        self._write(apply)

    def load_snapshot(self, stream_id: str, *, max_seq: int | None = None, max_timestamp_ms: int | None = None) -> Snapshot | None:
        """The newest snapshot with ``seq <= max_seq`` and ``timestamp_ms <= max_timestamp_ms``."""
        raw = codec.stream_bytes(stream_id)
        upto = sys.maxsize if max_seq is None else max_seq
        matches = self._read(lambda txn: matching_snapshots(txn, self._dbs, raw, 0, upto, max_timestamp_ms, newest_only=True))
        if not matches:
            return None
        seq, value = matches[0]
        return decode_snapshot(stream_id, seq, value)

    def load_snapshots(self, stream_id: str, *, min_seq: int = 0, max_seq: int | None = None) -> list[Snapshot]:
        """Every snapshot of the stream with ``min_seq <= seq <= max_seq``, oldest first, in one read.

        What loading several snapshots together (a session's snapshot parts) uses instead of one
        :meth:`load_snapshot` per seq. Raises :class:`CorruptRecord` for one that cannot be decoded.
        """
        raw = codec.stream_bytes(stream_id)
        lowest, upto = max(min_seq, 0), sys.maxsize if max_seq is None else max_seq
        matches = self._read(lambda txn: matching_snapshots(txn, self._dbs, raw, lowest, upto, None, newest_only=False))
        return [decode_snapshot(stream_id, seq, value) for seq, value in reversed(matches)]

    def delete_snapshots(self, stream_id: str, *, max_seq: int, max_timestamp_ms: int | None = None, min_seq: int = 0) -> int:
        """Delete snapshots with ``min_seq <= seq <= max_seq`` (and not newer than ``max_timestamp_ms``)."""
        raw = codec.stream_bytes(stream_id)

        def apply(state: TxnState) -> int:
            found = matching_snapshots(state.txn, self._dbs, raw, min_seq, max_seq, max_timestamp_ms, newest_only=False)
            for seq, _ in found:
                state.txn.delete(codec.seq_key(raw, seq), db=self._dbs["snapshots"])
            return len(found)

        return self._write(apply)

    def stored_size(self, stream_id: str) -> StoredSize:
        """The bytes a stream's records take: its events (with their index entries) and its snapshots.

        Keys and values as stored, before LMDB's page overhead (so a directory on disk is somewhat
        larger than the sum over its streams). Reads the stream's index in short transactions.
        """
        raw = codec.stream_bytes(stream_id)
        self._check_open()
        prefix = codec.stream_prefix(raw)
        events = 0
        start: bytes | None = prefix
        while start is not None:
            part, start = self._read(functools.partial(event_bytes, dbs=self._dbs, prefix=prefix, start=start, limit=READ_CHUNK))
            events += part
        return StoredSize(events, self._read(lambda txn: snapshot_bytes(txn, self._dbs, prefix)))

    # -- ownership ---------------------------------------------------------------------------
    # One process writes an LMDB journal, so it owns everything: a lock is only remembered.

    def try_lock(self, key: str) -> bool:
        """Take ownership lock ``key``: always granted to the one writer (see journal.protocol)."""
        self._check_open()
        if self._writer is None:
            raise ReadOnlyJournal(f"journal {self.path!r} was opened with readonly=True; ownership locks belong to its writer")
        self._locks.add(key)
        return True

    def unlock(self, key: str) -> bool:
        """Give up ownership lock ``key``; True if it was held."""
        self._check_open()
        if key in self._locks:
            self._locks.discard(key)
            return True
        return False

    def holds_lock(self, key: str) -> bool:
        """Whether ``key`` is held (taken with try_lock and not given up)."""
        return key in self._locks

    def lock_owner(self, key: str) -> LockOwner | None:
        """This process if it holds ``key``, else None (no other process can write this journal)."""
        self._check_open()
        return LockOwner(socket.gethostname(), os.getpid()) if key in self._locks else None

    # -- checking ----------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Scan everything; report every undecodable record, seq gap and index mismatch."""
        from .verify import verify

        self._check_open()
        return verify(self._storage)


def _apply_write(state: TxnState, p: _Prepared) -> AppendResult | WrongExpectedVersion:
    txn, dbs = state.txn, state.dbs
    highest, deleted_to = stream_row(txn, dbs, p.raw)
    if expectation_fails(p.expected, highest):
        return WrongExpectedVersion(p.stream_id, p.expected, highest)
    if not p.bodies:
        return AppendResult(p.stream_id, highest + 1, highest, state.head)
    seq = highest
    pack, seal = state.pack, codec.seal
    stamps = p.stamps
    for n, body in enumerate(p.bodies):
        seq += 1
        state.head += 1
        pos = codec.u64(state.head)
        own = None if stamps is None else stamps[n]
        stamp = state.now_raw if own is None else pack(own)
        # The bytes of codec.encode_record(p.stream_id, seq, body, timestamp), from parts encoded in advance.
        txn.put(pos, seal(p.record_head + pack(seq) + body + stamp), db=dbs["events"], append=True)
        txn.put(codec.seq_key(p.raw, seq), pos, db=dbs["index"])
    txn.put(p.raw, pack([seq, deleted_to]), db=dbs["streams"])
    return AppendResult(p.stream_id, highest + 1, seq, state.head)
