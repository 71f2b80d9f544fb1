"""The LMDB journal's read path: one stream by seq, the global log by position, streams by id.

Reads run in short transactions of at most ``READ_CHUNK`` rows, so a long read never pins old
pages and the map stays growable. A damaged record is reported as :class:`CorruptRecord` naming
its stream, seq and position; what comes before it is handed out first.
"""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from . import codec
from .common import Opener, as_set, decode_checked, scan
from .errors import CorruptRecord, JournalClosed
from .records import RecordedEvent, StreamInfo
from .storage import Dbs, Storage, Txn

READ_CHUNK = 1024  # events per read transaction: short transactions keep the map growable
T = TypeVar("T")


def stream_row(txn: Txn, dbs: Dbs, raw: bytes) -> tuple[int, int]:
    """A stream's (highest seq, deleted up to), (0, 0) for an unknown stream."""
    value = txn.get(raw, db=dbs["streams"])
    if value is None:
        return 0, 0
    highest, deleted_to = codec.unpack(value)
    return highest, deleted_to


class StorageReads(Opener):
    """The reads of :class:`journal.Journal` (which sets ``_storage`` and ``_dbs``)."""

    _storage: Storage
    _dbs: Dbs

    def _check_open(self) -> None:
        if self._closed:
            raise JournalClosed(f"journal {self.path!r} is closed; open it again with journal.open()")
        if self._storage.forked:
            # A forked child has no writer thread: a write would wait for it forever.
            raise JournalClosed(f"journal {self.path!r} was opened before fork() and cannot be used in the child; "
                "open journals only after forking (py-lmdb refuses to reopen it here while the parent's is inherited)")

    def _read(self, fn: Callable[[Txn], T]) -> T:
        self._check_open()
        return self._storage.read(fn)

    def highest_seq(self, stream_id: str) -> int:
        """The stream's highest seq ever written (0 for an unknown stream); deletions keep it."""
        raw = codec.stream_bytes(stream_id)
        return self._read(lambda txn: stream_row(txn, self._dbs, raw)[0])

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
                highest, deleted_to = stream_row(txn, self._dbs, raw)
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
        return self._read_all(after, limit, as_set(types), as_set(tags))

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
        rows = ((codec.from_u64(key), value) for key, value in raw_rows)
        return scan(rows, after, count, types, tags, self._upcasters, self._damaged)

    def _decode(self, value: bytes | None, position: int, stream_id: str, seq: int) -> RecordedEvent:
        if value is None:
            raise CorruptRecord("the index points at a missing event", stream_id=stream_id, seq=seq, position=position)
        return decode_checked(value, position, stream_id, seq, self._upcasters, "the index")

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
