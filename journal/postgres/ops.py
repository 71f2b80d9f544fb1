"""What a write request does inside the writer's batch transaction (see ``writer.py``).

:class:`PgTxn` is what the requests of one transaction share: the head and stream rows read under
the head lock, and the event rows they add, written by one statement before COMMIT. An
:class:`AppendOp` only adds rows (no SQL of its own); an :class:`SqlOp` runs its own SQL after the
rows added before it are written; a :class:`SessionOp` runs outside any transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import msgpack
import psycopg

from .. import codec
from ..common import Prepared, expectation_fails
from ..errors import WrongExpectedVersion
from ..records import AppendResult
from .schema import Names


class PgTxn:
    """What the requests of one transaction share: cursor, head, stream rows, pending inserts, clock."""

    def __init__(self, cur: psycopg.Cursor[Any], names: Names, head: int, streams: dict[str, list[int]]) -> None:
        self.cur = cur
        self.names = names
        self.head = head
        self.start_head = head
        self.streams = streams  # stream_id -> [highest_seq, deleted_to], read under the head lock
        self.changed: dict[str, list[int]] = {}
        self.positions: list[int] = []
        self.stream_ids: list[str] = []
        self.seqs: list[int] = []
        self.records: list[bytes] = []
        self.now_ms = time.time_ns() // 1_000_000
        self.pack = msgpack.Packer(use_bin_type=True).pack

    def row(self, stream_id: str) -> list[int]:
        return self.streams.setdefault(stream_id, [0, 0])

    def set_row(self, stream_id: str, highest: int, deleted_to: int) -> None:
        row = self.row(stream_id)
        row[0], row[1] = highest, deleted_to
        self.changed[stream_id] = row

    def flush_sql(self, final: bool) -> tuple[str, dict[str, Any]] | None:
        """The statement writing the pending events and stream rows; when ``final``, also the head
        and the NOTIFY. None when there is nothing to send."""
        n = self.names
        parts: list[str] = []
        params: dict[str, Any] = {}
        if self.positions:
            parts.append(f"e AS (INSERT INTO {n.events} (position, stream_id, seq, record) "
                         "SELECT * FROM unnest(%(p)b::int8[], %(s)b::text[], %(q)b::int8[], %(r)b::bytea[]))")
            params.update(p=self.positions, s=self.stream_ids, q=self.seqs, r=self.records)
        if self.changed:
            parts.append(f"st AS (INSERT INTO {n.streams} (stream_id, highest_seq, deleted_to) "
                         "SELECT * FROM unnest(%(sid)b::text[], %(hi)b::int8[], %(dt)b::int8[]) "
                         "ON CONFLICT (stream_id) DO UPDATE SET highest_seq = EXCLUDED.highest_seq, deleted_to = EXCLUDED.deleted_to)")
            params.update(sid=list(self.changed), hi=[r[0] for r in self.changed.values()], dt=[r[1] for r in self.changed.values()])
        if final and self.head != self.start_head:
            parts.append(f"h AS (UPDATE {n.head} SET position = %(head)b WHERE id = 1)")
            tail = "SELECT pg_notify(%(ch)b, %(headtxt)b)"
            params.update(head=self.head, ch=n.channel, headtxt=str(self.head))
        elif parts or final:
            tail = "SELECT 1"
        else:
            return None
        self.positions, self.stream_ids, self.seqs, self.records = [], [], [], []
        self.changed = {}
        return ("WITH " + ", ".join(parts) + " " if parts else "") + tail, params

    def flush(self) -> None:
        """Write what is pending now, so SQL run next sees it."""
        stmt = self.flush_sql(final=False)
        if stmt is not None:
            self.cur.execute(*stmt)


class AppendOp:
    """Atomic writes from one append/append_batch call."""

    __slots__ = ("single", "writes")

    def __init__(self, writes: list[Prepared | Any], single: bool) -> None:
        self.writes = writes  # Prepared, or an already-made result (a Rejected) to pass through
        self.single = single

    def stream_ids(self) -> Iterable[str]:
        return (w.stream_id for w in self.writes if isinstance(w, Prepared))

    def apply(self, txn: PgTxn) -> Any:
        out = [w if not isinstance(w, Prepared) else apply_write(txn, w) for w in self.writes]
        return out[0] if self.single else out


class SqlOp:
    """A request with its own SQL, run inside the batch's transaction after what came before it."""

    __slots__ = ("fn", "streams")

    def __init__(self, fn: Callable[[PgTxn], Any], streams: tuple[str, ...] = ()) -> None:
        self.fn = fn
        self.streams = streams

    def stream_ids(self) -> Iterable[str]:
        return self.streams

    def apply(self, txn: PgTxn) -> Any:
        txn.flush()
        return self.fn(txn)


class SessionOp:
    """A request run on the writer's connection outside any transaction (advisory locks)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[psycopg.Connection, set[str]], Any]) -> None:
        self.fn = fn


def apply_write(txn: PgTxn, p: Prepared) -> AppendResult | WrongExpectedVersion:
    row = txn.row(p.stream_id)
    highest, deleted_to = row
    if expectation_fails(p.expected, highest):
        return WrongExpectedVersion(p.stream_id, p.expected, highest)
    if not p.bodies:
        return AppendResult(p.stream_id, highest + 1, highest, txn.head)
    seq, head, now = highest, txn.head, txn.now_ms
    stamps = p.stamps
    for n, body in enumerate(p.bodies):
        seq += 1
        head += 1
        txn.positions.append(head)
        txn.stream_ids.append(p.stream_id)
        txn.seqs.append(seq)
        own = None if stamps is None else stamps[n]
        txn.records.append(codec.encode_record(p.stream_id, seq, body, now if own is None else own))
    txn.head = head
    txn.set_row(p.stream_id, seq, deleted_to)
    return AppendResult(p.stream_id, highest + 1, seq, head)
