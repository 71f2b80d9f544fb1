"""The PostgreSQL journal: the :class:`journal.EventJournal` contract on a shared database.

Writes go through this opener's writer thread (``writer.py``); reads run on a small pool of
read-only connections, in chunks, so a long read never holds a transaction open; subscriptions
are woken by LISTEN/NOTIFY (``subscription.py``). Any number of processes on any number of
machines may open the same database for writing at once.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg

from .. import codec
from ..common import Opener, as_set, decode_checked, decode_snapshot, encode_snapshot_parts, prepare, prepare_batch, scan
from ..errors import CorruptRecord, JournalClosed, ReadOnlyJournal
from ..protocol import LockOwner
from ..records import (
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
from ..subscription import Subscription
from . import locks
from .connect import ReadPool, connect, redact
from .ops import AppendOp, PgTxn, SessionOp, SqlOp
from .schema import Names, current_schema
from .schema import prepare as prepare_schema
from .subscription import POLL_SECONDS, Commits, Listener
from .writer import PgWriter

READ_CHUNK = 1000  # rows per query of read() / streams()
READ_ALL_CHUNK = 5000  # rows per query of read_all(): bigger, it is the replay path
DURABILITIES = ("sync", "nosync")


def open_postgres(url: str, *, durability: str = "sync", readonly: bool = False) -> PgJournal:
    """Open (creating its tables if needed, unless ``readonly``) the journal in database ``url``."""
    return PgJournal(url, durability=durability, readonly=readonly)


class PgJournal(Opener):
    """A journal in a PostgreSQL database. Thread-safe; use it as a context manager or call :meth:`close`.

    ``durability="sync"`` (default): an append returns once committed with
    ``synchronous_commit=on`` (flushed to the server's WAL). ``"nosync"``: ``synchronous_commit=off``;
    a server crash may lose the last commits (never half of one). See ``journal.protocol`` for
    the guarantees shared with the LMDB journal and for ownership locks.
    """

    _REPR_NAME = "journal.postgres.PgJournal"

    def __init__(self, url: str, *, durability: str = "sync", readonly: bool = False) -> None:
        if durability not in DURABILITIES:
            raise ValueError(f"durability must be one of {DURABILITIES}, got {durability!r}")
        self.url = url
        self.path = redact(url)
        self.durability = durability
        self.readonly = readonly
        self._pid = os.getpid()
        self._closed = False
        self._upcasters = {}
        self._commits_seen = Commits()
        self._listener: Listener | None = None
        self._listener_lock = threading.Lock()
        self._writer: PgWriter | None = None
        with connect(url, readonly=readonly) as conn:
            self.names = Names(current_schema(conn, self.path))
            prepare_schema(conn, self.names, create=not readonly, where=self.path)
        self._pool = ReadPool(url, self.path)
        if not readonly:
            self._writer = PgWriter(url, self.names, durable=durability == "sync", on_commit=lambda _head: self._commits_seen.bump())

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Commit what is queued, stop the writer, release every connection and lock. Idempotent."""
        if self._closed:
            return
        self._closed = True
        forked = os.getpid() != self._pid
        if self._writer is not None:
            if forked:
                self._writer.abandon()
            else:
                self._writer.close()
        if self._listener is not None and not forked:
            self._listener.close()
        self._commits_seen.bump()  # wake subscriptions so they see the close
        self._pool.close()

    @property
    def connection_losses(self) -> int:
        """How often the writer's connection was lost and replaced (each loss ends its ownership locks)."""
        return self._writer.connection_losses if self._writer else 0

    def _check_open(self) -> None:
        if self._closed:
            raise JournalClosed(f"journal {self.path} is closed; open it again with journal.open()")
        if os.getpid() != self._pid:
            raise JournalClosed(f"journal {self.path} was opened before fork() and cannot be used in the child; "
                                "open journals only after forking (the connections are the parent's)")

    def _submit(self, op: AppendOp | SqlOp | SessionOp) -> Any:
        self._check_open()
        if self._writer is None:
            raise ReadOnlyJournal(f"journal {self.path} was opened with readonly=True; open it without readonly to write")
        return self._writer.submit(op)

    def _read(self, query: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        self._check_open()

        def fn(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
            with conn.cursor(binary=True) as cur:
                cur.execute(query, params)  # queries are built from quoted names only
                return cur.fetchall()

        return self._pool.run(fn)

    # -- appending ---------------------------------------------------------------------------

    def append(self, stream_id: str, events: Iterable[Event], *, expected_seq: ExpectedSeq = ANY) -> AppendResult:
        """Append ``events`` to ``stream_id`` atomically; return once durable.

        Raises :class:`WrongExpectedVersion` or :class:`EventRejected` with nothing written, and
        :class:`CommitUnknown` when the connection was lost while committing.
        """
        prepared = prepare(stream_id, events, expected_seq)
        result = self._submit(AppendOp([prepared], single=True))
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[no-any-return]

    def append_batch(self, writes: Iterable[AtomicWrite]) -> list[AppendResult | Rejected]:
        """Apply several atomic writes in one commit; a rejected write does not stop the others."""
        prepared = prepare_batch(writes)
        results = self._submit(AppendOp(prepared, single=False))
        return [Rejected(p.stream_id, r) if isinstance(r, Exception) else r for p, r in zip(prepared, results, strict=True)]

    def delete_to(self, stream_id: str, seq: int) -> None:
        """Delete events ``1..seq`` of a stream. Its highest seq is never lowered."""
        codec.stream_bytes(stream_id)
        n = self.names

        def apply(txn: PgTxn) -> None:
            highest, deleted_to = txn.row(stream_id)
            upto = min(seq, highest)
            if upto > deleted_to:
                txn.cur.execute(f"DELETE FROM {n.events} WHERE stream_id = %b AND seq <= %b", (stream_id, upto))
                txn.cur.execute(f"UPDATE {n.streams} SET deleted_to = %b WHERE stream_id = %b", (upto, stream_id))
                txn.row(stream_id)[1] = upto

        self._submit(SqlOp(apply, (stream_id,)))

    # -- reading -----------------------------------------------------------------------------

    def highest_seq(self, stream_id: str) -> int:
        """The stream's highest seq ever written (0 for an unknown stream); deletions keep it."""
        codec.stream_bytes(stream_id)
        rows = self._read(f"SELECT highest_seq FROM {self.names.streams} WHERE stream_id = %b", (stream_id,))
        return int(rows[0][0]) if rows else 0

    def head(self) -> int:
        """The last global position (0 when empty)."""
        rows = self._read(f"SELECT position FROM {self.names.head} WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def read(self, stream_id: str, from_seq: int = 1, to_seq: int | None = None, max_count: int | None = None) -> Iterator[RecordedEvent]:
        """Events of one stream with ``from_seq <= seq <= to_seq``, at most ``max_count``, in seq order."""
        codec.stream_bytes(stream_id)
        self._check_open()
        return self._read_stream(stream_id, from_seq, to_seq, max_count)

    def _read_stream(self, stream_id: str, from_seq: int, to_seq: int | None, max_count: int | None) -> Iterator[RecordedEvent]:
        remaining = sys.maxsize if max_count is None else max_count
        next_seq = max(from_seq, 1)
        last = _bigint(to_seq)
        # The stream row and a chunk of its events in one statement, so one snapshot: a delete_to
        # committing in between cannot pass for missing rows. Seqs must then run without gaps.
        n = self.names
        query = (f"SELECT s.highest_seq, s.deleted_to, e.seq, e.position, e.record FROM {n.streams} s "
                 f"LEFT JOIN LATERAL (SELECT seq, position, record FROM {n.events} WHERE stream_id = s.stream_id "
                 "AND seq >= GREATEST(%(from)b, s.deleted_to + 1) AND seq <= LEAST(%(to)b, s.highest_seq) ORDER BY seq LIMIT %(n)b) e ON true "
                 "WHERE s.stream_id = %(id)b")
        while remaining > 0 and next_seq <= last:
            count = min(remaining, READ_CHUNK)
            rows = self._read(query, {"from": next_seq, "to": last, "n": count, "id": stream_id})
            if not rows:
                return  # an unknown stream
            highest, deleted_to = rows[0][0], rows[0][1]
            next_seq = max(next_seq, deleted_to + 1)
            end = min(last, highest)
            got = 0
            for _h, _d, seq, position, record in rows:
                if seq is None:
                    break
                if seq != next_seq:
                    raise CorruptRecord("the event row is missing", stream_id=stream_id, seq=next_seq, position=None)
                yield self._decode(record, position, stream_id, seq)
                next_seq += 1
                got += 1
            if got < count and next_seq <= end:
                raise CorruptRecord("the event row is missing", stream_id=stream_id, seq=next_seq, position=None)
            if got < count or next_seq > end:
                return
            remaining -= got

    def read_all(self, after: int = 0, *, limit: int | None = None, types: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> Iterator[RecordedEvent]:
        """Every stream's events in global position order, from ``after`` (exclusive)."""
        self._check_open()
        return self._read_all(after, limit, as_set(types), as_set(tags))

    def _read_all(self, after: int, limit: int | None, types: frozenset[str] | None, tags: frozenset[str] | None) -> Iterator[RecordedEvent]:
        remaining = sys.maxsize if limit is None else limit
        while remaining > 0:
            if types is None and tags is None and not self._upcasters:
                rows = self._rows(after, min(remaining, READ_ALL_CHUNK))
                if not rows:
                    return
                decode = codec.decode_record
                for position, record in rows:
                    after = position
                    try:
                        event = decode(record, position)
                    except codec.DECODE_ERRORS as e:
                        raise self._damaged(position, e) from e
                    yield event
                remaining -= len(rows)
                continue
            matched, last = self._scan(after, min(remaining, READ_CHUNK), types, tags)
            if last is None:
                return
            after = last
            yield from matched
            remaining -= len(matched)

    def _rows(self, after: int, count: int) -> list[tuple[Any, ...]]:
        return self._read(f"SELECT position, record FROM {self.names.events} WHERE position > %b ORDER BY position LIMIT %b", (after, count))

    def _scan(self, after: int, count: int, types: frozenset[str] | None, tags: frozenset[str] | None) -> tuple[list[RecordedEvent], int | None]:
        """Up to ``count`` matching events after ``after``, and the last position scanned (None at the end)."""
        rows = self._rows(after, READ_CHUNK)
        if not rows:
            return [], None
        return scan(rows, after, count, types, tags, self._upcasters, self._damaged)

    def _decode(self, record: bytes, position: int, stream_id: str, seq: int) -> RecordedEvent:
        return decode_checked(record, position, stream_id, seq, self._upcasters, "its row")

    def _damaged(self, position: int, error: Exception) -> CorruptRecord:
        rows = self._read(f"SELECT stream_id, seq FROM {self.names.events} WHERE position = %b", (position,))
        stream_id, seq = rows[0] if rows else (None, None)
        return CorruptRecord(repr(error), stream_id=stream_id, seq=seq, position=position)

    def subscribe(self, after: int = 0, *, types: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> Subscription:
        """Yield what exists after ``after``, then each new event as it is committed (by any process), until closed."""
        self._check_open()
        with self._listener_lock:
            if self._listener is None:
                self._listener = Listener(self.url, self.names.channel, self._commits_seen)
        return Subscription(self._scan, lambda: self._closed, self._commits_seen, after, as_set(types), as_set(tags), poll_seconds=POLL_SECONDS)

    def streams(self, prefix: str = "") -> Iterator[StreamInfo]:
        """Every stream whose id starts with ``prefix``, in id order."""
        self._check_open()
        return self._streams(prefix)

    def _streams(self, prefix: str) -> Iterator[StreamInfo]:
        query = f"SELECT stream_id, highest_seq, deleted_to FROM {self.names.streams} WHERE stream_id >= %b ORDER BY stream_id LIMIT %b"
        start, first = prefix, True
        while True:
            rows = self._read(query, (start, READ_CHUNK + 1))
            if not first:
                rows = [r for r in rows if r[0] != start]  # the page boundary, already handed out
            for stream_id, highest, deleted_to in rows:
                if not stream_id.startswith(prefix):
                    return
                yield StreamInfo(stream_id, highest, deleted_to)
            if len(rows) < READ_CHUNK:
                return
            start, first = rows[-1][0], False

    # -- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, stream_id: str, seq: int, state: Any, metadata: dict[str, Any] | None = None) -> None:
        """Save ``state`` as the stream's state at ``seq`` (overwriting one saved at the same seq)."""
        codec.stream_bytes(stream_id)
        state_raw, meta_raw = encode_snapshot_parts(stream_id, seq, state, metadata)
        n = self.names

        def apply(txn: PgTxn) -> None:
            value = codec.encode_snapshot(txn.now_ms, state_raw, meta_raw)  # as the LMDB journal stores it
            txn.cur.execute(f"INSERT INTO {n.snapshots} (stream_id, seq, timestamp_ms, value) VALUES (%b, %b, %b, %b) "
                            "ON CONFLICT (stream_id, seq) DO UPDATE SET timestamp_ms = EXCLUDED.timestamp_ms, value = EXCLUDED.value",
                            (stream_id, seq, txn.now_ms, value))

        self._submit(SqlOp(apply))

    def load_snapshot(self, stream_id: str, *, max_seq: int | None = None, max_timestamp_ms: int | None = None) -> Snapshot | None:
        """The newest snapshot with ``seq <= max_seq`` and ``timestamp_ms <= max_timestamp_ms``."""
        codec.stream_bytes(stream_id)
        rows = self._read(f"SELECT seq, value FROM {self.names.snapshots} WHERE stream_id = %b AND seq <= %b AND timestamp_ms <= %b "
                          "ORDER BY seq DESC LIMIT 1", (stream_id, _bigint(max_seq), _bigint(max_timestamp_ms)))
        if not rows:
            return None
        return decode_snapshot(stream_id, *rows[0])

    def load_snapshots(self, stream_id: str, *, min_seq: int = 0, max_seq: int | None = None) -> list[Snapshot]:
        """Every snapshot of the stream with ``min_seq <= seq <= max_seq``, oldest first, in one query."""
        codec.stream_bytes(stream_id)
        rows = self._read(f"SELECT seq, value FROM {self.names.snapshots} WHERE stream_id = %b AND seq >= %b AND seq <= %b "
                          "ORDER BY seq", (stream_id, _bigint(max(min_seq, 0)), _bigint(max_seq)))
        return [decode_snapshot(stream_id, seq, value) for seq, value in rows]

    def delete_snapshots(self, stream_id: str, *, max_seq: int, max_timestamp_ms: int | None = None, min_seq: int = 0) -> int:
        """Delete snapshots with ``min_seq <= seq <= max_seq`` (and not newer than ``max_timestamp_ms``)."""
        codec.stream_bytes(stream_id)
        n = self.names

        def apply(txn: PgTxn) -> int:
            txn.cur.execute(f"DELETE FROM {n.snapshots} WHERE stream_id = %b AND seq >= %b AND seq <= %b AND timestamp_ms <= %b",
                            (stream_id, _bigint(min_seq), _bigint(max_seq), _bigint(max_timestamp_ms)))
            return txn.cur.rowcount

        return int(self._submit(SqlOp(apply)))

    def stored_size(self, stream_id: str) -> StoredSize:
        """The bytes of a stream's event records and snapshot values, with their keys."""
        codec.stream_bytes(stream_id)
        n = self.names
        rows = self._read(
            f"SELECT (SELECT coalesce(sum(octet_length(record) + octet_length(stream_id) + 16), 0) FROM {n.events} WHERE stream_id = %b), "
            f"(SELECT coalesce(sum(octet_length(value) + octet_length(stream_id) + 16), 0) FROM {n.snapshots} WHERE stream_id = %b)",
            (stream_id, stream_id),
        )
        return StoredSize(int(rows[0][0]), int(rows[0][1]))

    # -- checking and ownership ----------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Scan everything; report every undecodable record, seq gap and row mismatch."""
        from .verify import verify

        self._check_open()
        return self._pool.run(lambda conn: verify(conn, self.names))

    def try_lock(self, key: str) -> bool:
        """Take ownership lock ``key`` (a PostgreSQL advisory lock on the writer's connection) if free."""
        return bool(self._submit(SessionOp(locks.try_lock(self.names.lock_key(key), key))))

    def unlock(self, key: str) -> bool:
        """Give up ownership lock ``key``; True if this opener held it."""
        return bool(self._submit(SessionOp(locks.unlock(self.names.lock_key(key), key))))

    def lock_owner(self, key: str) -> LockOwner | None:
        """Who holds ownership lock ``key``: host name and pid of its opener's process, or None."""
        self._check_open()
        return self._pool.run(lambda conn: locks.owner(conn, self.names.lock_key(key)))

    def holds_lock(self, key: str) -> bool:
        """Whether this opener holds ``key`` now (False once its connection was lost: noticed at the
        next write, or within ``LOCK_CHECK_SECONDS`` while idle)."""
        return self._writer is not None and key in self._writer.held


def _bigint(value: int | None) -> int:
    """A bound for a bigint column: None (no bound) and huge ints become the largest bigint."""
    if value is None:
        return 2**63 - 1
    return max(-(2**63), min(value, 2**63 - 1))

