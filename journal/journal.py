"""The :class:`Journal`: an append-only event log with per-stream seqs and one global position."""

from __future__ import annotations

import functools
import itertools
import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import lmdb

from . import codec, directory, faults
from .common import Prepared as _Prepared
from .common import as_set as _as_set
from .common import check_writes, expectation_fails, upcast
from .common import prepare as _prepare
from .errors import CorruptRecord, EventRejected, JournalClosed, JournalError, ReadOnlyJournal, WrongExpectedVersion
from .protocol import EventJournal, LockOwner
from .records import (
    ANY,
    AppendResult,
    AtomicWrite,
    Event,
    ExpectedSeq,
    RecordedEvent,
    Rejected,
    Snapshot,
    StoredSize,
    StreamInfo,
    VerifyReport,
)
from .storage import Dbs, Storage, Txn, acquire, release
from .subscription import Subscription
from .writer import TxnState, Writer

READ_CHUNK = 1024  # events per read transaction: short transactions keep the map growable
DURABILITIES = ("sync", "nosync")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
Upcaster = Callable[[Any], Any]
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


class Journal:
    """An open journal. Thread-safe; use it as a context manager or call :meth:`close`."""

    def __init__(self, path: str, *, durability: str = "sync", readonly: bool = False, map_size: int | None = None) -> None:
        if durability not in DURABILITIES:
            raise ValueError(f"durability must be one of {DURABILITIES}, got {durability!r}")
        self.path = path
        self.durability = durability
        self.readonly = readonly
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
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

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readonly" if self.readonly else self.durability
        return f"<journal.Journal {self.path!r} {mode}{' closed' if self._closed else ''}>"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def commits(self) -> int:
        """Write transactions committed by this opener (appends per commit shows group commit at work)."""
        return self._writer.commits if self._writer else 0

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _check_open(self) -> None:
        if self._closed:
            raise JournalClosed(f"journal {self.path!r} is closed; open it again with journal.open()")
        if self._storage.forked:
            # A forked child has no writer thread: a write would wait for it forever.
            raise JournalClosed(f"journal {self.path!r} was opened before fork() and cannot be used in the child; "
                "open journals only after forking (py-lmdb refuses to reopen it here while the parent's is inherited)")

    def _write(self, apply: Callable[[TxnState], T]) -> T:
        self._check_open()
        if self._writer is None:
            raise ReadOnlyJournal(f"journal {self.path!r} was opened with readonly=True; open it without readonly to write")
        result: T = self._writer.submit(apply)
        return result

    def _read(self, fn: Callable[[Txn], T]) -> T:
        self._check_open()
        return self._storage.read(fn)

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
        prepared: list[_Prepared | Rejected] = []
        for write in check_writes(writes):
            try:
                prepared.append(_prepare(write.stream_id, write.events, write.expected_seq, "AtomicWrite.events"))
            except (EventRejected, ValueError) as e:
                prepared.append(Rejected(write.stream_id, e if isinstance(e, EventRejected) else EventRejected(str(e))))

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
            highest, deleted_to = _stream_row(state.txn, self._dbs, raw)
            upto = min(seq, highest)
            for s in range(deleted_to + 1, upto + 1):
                key = codec.seq_key(raw, s)
                pos = state.txn.pop(key, db=self._dbs["index"])
                if pos is not None:
                    state.txn.delete(pos, db=self._dbs["events"])
            if upto > deleted_to:
                state.txn.put(raw, codec.pack([highest, upto]), db=self._dbs["streams"])

        self._write(apply)

    # -- reading -----------------------------------------------------------------------------

    def highest_seq(self, stream_id: str) -> int:
        """The stream's highest seq ever written (0 for an unknown stream); deletions keep it."""
        raw = codec.stream_bytes(stream_id)
        return self._read(lambda txn: _stream_row(txn, self._dbs, raw)[0])

    def head(self) -> int:
        """The last global position (0 when empty)."""

        def fn(txn: Txn) -> int:
            raw = txn.get(b"head", db=self._dbs["meta"])
            return codec.from_u64(raw) if raw else 0

        return self._read(fn)

    def read(self, stream_id: str, from_seq: int = 1, to_seq: int | None = None, max_count: int | None = None) -> Iterator[RecordedEvent]:
        """Events of one stream with ``from_seq <= seq <= to_seq``, at most ``max_count``, in seq order."""
        raw = codec.stream_bytes(stream_id)
        self._check_open()
        return self._read_stream(stream_id, raw, from_seq, to_seq, max_count)

    def _read_stream(self, stream_id: str, raw: bytes, from_seq: int, to_seq: int | None, max_count: int | None) -> Iterator[RecordedEvent]:
        remaining = sys.maxsize if max_count is None else max_count
        next_seq = max(from_seq, 1)
        prefix = codec.stream_prefix(raw)
        while remaining > 0:
            def chunk(txn: Txn, next_seq: int = next_seq, want: int = min(remaining, READ_CHUNK)) -> list[tuple[int, bytes | None, int]]:
                highest, deleted_to = _stream_row(txn, self._dbs, raw)
                last = highest if to_seq is None else min(to_seq, highest)
                start = max(next_seq, deleted_to + 1)
                out: list[tuple[int, bytes | None, int]] = []
                if start > last:
                    return out
                cursor = txn.cursor(db=self._dbs["index"])
                events = self._dbs["events"]
                if not cursor.set_range(codec.seq_key(raw, start)):
                    return out
                for key, pos_raw in cursor:
                    if not key.startswith(prefix) or len(key) != len(prefix) + 8:
                        break
                    seq = codec.from_u64(key[-8:])
                    if seq > last or len(out) >= want:
                        break
                    pos = codec.from_u64(pos_raw)
                    out.append((seq, txn.get(pos_raw, db=events), pos))
                return out

            rows = self._read(chunk)
            if not rows:
                return
            for seq, value, pos in rows:
                yield self._decode(value, pos, stream_id, seq)
            remaining -= len(rows)
            next_seq = rows[-1][0] + 1

    def read_all(self, after: int = 0, *, limit: int | None = None, types: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> Iterator[RecordedEvent]:
        """Every stream's events in global position order, from ``after`` (exclusive)."""
        self._check_open()
        return self._read_all(after, limit, _as_set(types), _as_set(tags))

    def _read_all(self, after: int, limit: int | None, types: frozenset[str] | None, tags: frozenset[str] | None) -> Iterator[RecordedEvent]:
        remaining = sys.maxsize if limit is None else limit
        while remaining > 0:
            if types is None and tags is None and not self._upcasters:
                # A plain replay decodes each event only when it is handed out, not a chunk ahead:
                # a caller that drops events as it goes then keeps few of them alive, and the
                # cyclic GC has little to pass over (it took half the time of a chunk-ahead replay).
                rows = self._read(functools.partial(self._rows, after=after))[:remaining]
                if not rows:
                    return
                decode, from_bytes = codec.decode_record, int.from_bytes
                for key, value in rows:
                    after = from_bytes(key, "big")
                    try:
                        event = decode(value, after)
                    except codec.DECODE_ERRORS as e:
                        raise self._damaged(after, e) from e
                    yield event
                remaining -= len(rows)
                continue
            matched, last = self._scan(after, min(remaining, READ_CHUNK), types, tags)
            if last is None:
                return
            after = last
            yield from matched
            remaining -= len(matched)

    def _rows(self, txn: Txn, after: int) -> list[tuple[bytes, bytes]]:
        """Up to READ_CHUNK raw ``events`` rows after position ``after``."""
        cursor = txn.cursor(db=self._dbs["events"])
        if not cursor.set_range(codec.u64(after + 1)):
            return []
        return list(itertools.islice(cursor, READ_CHUNK))

    def _scan(self, after: int, count: int, types: frozenset[str] | None, tags: frozenset[str] | None) -> tuple[list[RecordedEvent], int | None]:
        """Up to ``count`` matching events after ``after``, and the last position scanned (None at the end)."""
        raw_rows = self._read(lambda txn: self._rows(txn, after))
        if not raw_rows:
            return [], None
        decode = codec.decode_record
        upcast = self._upcasters
        matched: list[RecordedEvent] = []
        last = after
        for key, value in raw_rows:
            scanned, last = last, codec.from_u64(key)
            try:
                event = decode(value, last)
            except codec.DECODE_ERRORS as e:
                if scanned != after:
                    # Hand out the good events before the damaged one first (as read() does);
                    # the next scan starts at the damaged record and raises there.
                    return matched, scanned
                raise self._damaged(last, e) from e
            if upcast:
                event = self._upcast(event)
            if (types is None or event.type in types) and (tags is None or not tags.isdisjoint(event.tags)):
                matched.append(event)
                if len(matched) >= count:
                    break
        return matched, last

    def _decode(self, value: bytes | None, position: int, stream_id: str, seq: int) -> RecordedEvent:
        if value is None:
            raise CorruptRecord("the index points at a missing event", stream_id=stream_id, seq=seq, position=position)
        try:
            event = codec.decode_record(value, position)
        except codec.DECODE_ERRORS as e:
            raise CorruptRecord(repr(e), stream_id=stream_id, seq=seq, position=position) from e
        if event.stream_id != stream_id or event.seq != seq:
            raise CorruptRecord(
                f"record says stream {event.stream_id!r} seq {event.seq}, the index says otherwise",
                stream_id=stream_id, seq=seq, position=position,
            )
        return self._upcast(event) if self._upcasters else event

    def _damaged(self, position: int, error: Exception) -> CorruptRecord:
        """The error for an undecodable ``events`` record, naming its stream and seq if the index knows them."""
        stream_id, seq = self._locate(position)
        return CorruptRecord(repr(error), stream_id=stream_id, seq=seq, position=position)

    def _locate(self, position: int) -> tuple[str | None, int | None]:
        """Find which (stream, seq) the index maps to ``position``: only used to name a damaged record."""
        target = codec.u64(position)

        def fn(txn: Txn) -> tuple[str | None, int | None]:
            for key, pos in txn.cursor(db=self._dbs["index"]):
                if pos == target:
                    return codec.split_seq_key(key)
            return None, None

        return self._read(fn)

    def subscribe(self, after: int = 0, *, types: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> Subscription:
        """Yield what exists after ``after``, then each new event as it is committed, until closed."""
        self._check_open()
        return Subscription(self._scan, lambda: self._closed, self._storage, after, _as_set(types), _as_set(tags))

    def streams(self, prefix: str = "") -> Iterator[StreamInfo]:
        """Every stream whose id starts with ``prefix``, in id order."""
        self._check_open()
        start = prefix.encode("utf-8")
        while True:
            def chunk(txn: Txn, start: bytes = start) -> list[StreamInfo]:
                cursor = txn.cursor(db=self._dbs["streams"])
                out: list[StreamInfo] = []
                if not cursor.set_range(start):
                    return out
                for key, value in cursor:
                    if not key.startswith(prefix.encode("utf-8")) or len(out) >= READ_CHUNK:
                        break
                    highest, deleted_to = codec.unpack(value)
                    out.append(StreamInfo(key.decode("utf-8"), highest, deleted_to))
                return out

            infos = self._read(chunk)
            yield from infos
            if len(infos) < READ_CHUNK:
                return
            start = infos[-1].stream_id.encode("utf-8") + b"\x00"

    # -- upcasting ---------------------------------------------------------------------------

    def register_upcaster(self, type: str, from_version: int, fn: Upcaster) -> None:
        """Register ``fn(data) -> data`` turning ``type`` at ``from_version`` into ``from_version + 1``."""
        self._upcasters[(type, from_version)] = fn

    def _upcast(self, event: RecordedEvent) -> RecordedEvent:
        return upcast(self._upcasters, event)

    # -- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, stream_id: str, seq: int, state: Any, metadata: dict[str, Any] | None = None) -> None:
        """Save ``state`` as the stream's state at ``seq`` (overwriting one saved at the same seq)."""
        key = codec.seq_key(codec.stream_bytes(stream_id), seq)
        try:
            body = (codec.pack_checked(state), codec.pack_checked(metadata or {}))
        except (TypeError, ValueError, OverflowError) as e:
            raise EventRejected(f"snapshot of {stream_id!r} at seq {seq} cannot be encoded with msgpack: {e}") from e

        def apply(state_: TxnState) -> None:
            state_.txn.put(key, codec.encode_snapshot(state_.now_ms, body[0], body[1]), db=self._dbs["snapshots"])

        self._write(apply)

    def load_snapshot(self, stream_id: str, *, max_seq: int | None = None, max_timestamp_ms: int | None = None) -> Snapshot | None:
        """The newest snapshot with ``seq <= max_seq`` and ``timestamp_ms <= max_timestamp_ms``."""
        raw = codec.stream_bytes(stream_id)
        matches = self._snapshots(raw, 0, sys.maxsize if max_seq is None else max_seq, max_timestamp_ms, newest_only=True)
        if not matches:
            return None
        return _decoded_snapshot(stream_id, *matches[0])

    def load_snapshots(self, stream_id: str, *, min_seq: int = 0, max_seq: int | None = None) -> list[Snapshot]:
        """Every snapshot of the stream with ``min_seq <= seq <= max_seq``, oldest first, in one read.

        What loading several snapshots together (a session's snapshot parts) uses instead of one
        :meth:`load_snapshot` per seq. Raises :class:`CorruptRecord` for one that cannot be decoded.
        """
        raw = codec.stream_bytes(stream_id)
        matches = self._snapshots(raw, max(min_seq, 0), sys.maxsize if max_seq is None else max_seq, None, newest_only=False)
        return [_decoded_snapshot(stream_id, seq, value) for seq, value in reversed(matches)]

    def delete_snapshots(self, stream_id: str, *, max_seq: int, max_timestamp_ms: int | None = None, min_seq: int = 0) -> int:
        """Delete snapshots with ``min_seq <= seq <= max_seq`` (and not newer than ``max_timestamp_ms``)."""
        raw = codec.stream_bytes(stream_id)

        def apply(state: TxnState) -> int:
            found = _matching_snapshots(state.txn, self._dbs, raw, min_seq, max_seq, max_timestamp_ms, newest_only=False)
            for seq, _ in found:
                state.txn.delete(codec.seq_key(raw, seq), db=self._dbs["snapshots"])
            return len(found)

        return self._write(apply)

    # -- sizes -------------------------------------------------------------------------------

    def stored_size(self, stream_id: str) -> StoredSize:
        """The bytes a stream's records take: its events (with their index entries) and its snapshots.

        Keys and values as stored, before LMDB's page overhead (so a directory on disk is somewhat
        larger than the sum over its streams). Reads the stream's index in short transactions.
        """
        raw = codec.stream_bytes(stream_id)
        self._check_open()
        prefix = codec.stream_prefix(raw)
        dbs = self._dbs

        def event_chunk(txn: Txn, start: bytes) -> tuple[int, bytes | None]:
            """Bytes of up to READ_CHUNK events from index key ``start``, and the key to go on from (None: done)."""
            total = 0
            cursor = txn.cursor(db=dbs["index"])
            if not cursor.set_range(start):
                return 0, None
            for n, (key, pos) in enumerate(cursor):
                if not key.startswith(prefix) or len(key) != len(prefix) + 8:
                    return total, None
                if n == READ_CHUNK:
                    return total, key
                value = txn.get(pos, db=dbs["events"])
                total += len(key) + 2 * len(pos) + (len(value) if value is not None else 0)
            return total, None

        def snapshot_bytes(txn: Txn) -> int:
            total = 0
            cursor = txn.cursor(db=dbs["snapshots"])
            if cursor.set_range(prefix):
                for key, value in cursor:
                    if not key.startswith(prefix) or len(key) != len(prefix) + 8:
                        break
                    total += len(key) + len(value)
            return total

        events = 0
        start: bytes | None = prefix
        while start is not None:
            part, start = self._read(functools.partial(event_chunk, start=start))
            events += part
        return StoredSize(events, self._read(snapshot_bytes))

    def _snapshots(self, raw: bytes, min_seq: int, max_seq: int, max_ts: int | None, newest_only: bool) -> list[tuple[int, bytes]]:
        return self._read(lambda txn: _matching_snapshots(txn, self._dbs, raw, min_seq, max_seq, max_ts, newest_only))

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


def _stream_row(txn: Txn, dbs: Dbs, raw: bytes) -> tuple[int, int]:
    value = txn.get(raw, db=dbs["streams"])
    if value is None:
        return 0, 0
    highest, deleted_to = codec.unpack(value)
    return highest, deleted_to


def _apply_write(state: TxnState, p: _Prepared) -> AppendResult | WrongExpectedVersion:
    txn, dbs = state.txn, state.dbs
    highest, deleted_to = _stream_row(txn, dbs, p.raw)
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


def _matching_snapshots(
    txn: Txn, dbs: Dbs, raw: bytes, min_seq: int, max_seq: int, max_ts: int | None, newest_only: bool
) -> list[tuple[int, bytes]]:
    """Snapshots of a stream in ``min_seq..max_seq`` not newer than ``max_ts``, newest first."""
    prefix = codec.stream_prefix(raw)
    cursor = txn.cursor(db=dbs["snapshots"])
    # Position on the last key <= (stream, max_seq), then walk backwards.
    upper = codec.seq_key(raw, min(max_seq, 2**64 - 1))
    if cursor.set_range(upper):
        if cursor.key() != upper and not cursor.prev():
            return []
    elif not cursor.last():
        return []
    out: list[tuple[int, bytes]] = []
    while True:
        key = cursor.key()
        if not key.startswith(prefix) or len(key) != len(prefix) + 8:
            break
        seq = codec.from_u64(key[-8:])
        if seq < min_seq:
            break
        value = cursor.value()
        if max_ts is None or _snapshot_ts(value) <= max_ts:
            out.append((seq, value))
            if newest_only:
                break
        if not cursor.prev():
            break
    return out


def _decoded_snapshot(stream_id: str, seq: int, value: bytes) -> Snapshot:
    try:
        ts, state, metadata = codec.decode_snapshot(value)
    except codec.DECODE_ERRORS as e:
        raise CorruptRecord(f"snapshot: {e!r}", stream_id=stream_id, seq=seq, position=None) from e
    return Snapshot(stream_id, seq, ts, state, metadata)


def _snapshot_ts(value: bytes) -> int:
    try:
        ts: int = codec.unpack(value)[0]
        return ts
    except codec.DECODE_ERRORS:
        return 0  # a damaged snapshot still matches by seq; load_snapshot then reports it


