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
        self.first_position = 0  # of the pending events, which take consecutive positions from it
        self.stream_ids: list[str] = []
        self.seqs: list[int] = []
        self.records: list[bytes] = []
        self.now_ms = time.time_ns() // 1_000_000
        self.pack = msgpack.Packer(use_bin_type=True).pack

    def row(self, stream_id: str) -> list[int]:
        return self.streams.setdefault(stream_id, [0, 0])

    def flush_sql(self, final: bool, guard: bool = False) -> tuple[str, dict[str, Any]] | None:
        """The statement writing the pending events and stream rows; when ``final``, also the head
        and the NOTIFY. None when there is nothing to send.

        ``guard``: the head and stream rows were not read but remembered from this writer's last
        commit; the statement then fails (division by zero) unless the head is still where it was,
        which it is exactly when nobody else appended since (every append moves the head)."""
        n = self.names
        parts: list[str] = []
        params: dict[str, Any] = {}
        if guard:
            parts.append(f"g AS (SELECT 1 FROM {n.head} WHERE id = 1 AND position = %(start)b)")
            params["start"] = self.start_head
        if self.records:
            # Positions are numbered on the server, and the stream rows follow from the rows
            # inserted: three arrays to encode, the writer thread's main cost, instead of seven.
            parts.append(f"e AS (INSERT INTO {n.events} (position, stream_id, seq, record) "
                         "SELECT %(base)b::int8 + u.n, u.s, u.q, u.r "
                         "FROM unnest(%(s)b::text[], %(q)b::int8[], %(r)b::bytea[]) WITH ORDINALITY AS u(s, q, r, n) "
                         "RETURNING stream_id, seq)")
            parts.append(f"st AS (INSERT INTO {n.streams} (stream_id, highest_seq, deleted_to) "
                         "SELECT stream_id, max(seq), 0 FROM e GROUP BY stream_id "
                         "ON CONFLICT (stream_id) DO UPDATE SET highest_seq = EXCLUDED.highest_seq)")
            params.update(base=self.first_position - 1, s=self.stream_ids, q=self.seqs, r=self.records)
        check = ", (SELECT 1 / count(*) FROM g)" if guard else ""
        if final and self.head != self.start_head:
            parts.append(f"h AS (UPDATE {n.head} SET position = %(head)b WHERE id = 1)")
            tail = "SELECT pg_notify(%(ch)b, %(headtxt)b)" + check
            params.update(head=self.head, ch=n.channel, headtxt=str(self.head))
        elif parts or final:
            tail = "SELECT 1" + check
        else:
            return None
        self.stream_ids, self.seqs, self.records = [], [], []
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
    highest = row[0]
    if expectation_fails(p.expected, highest):
        return WrongExpectedVersion(p.stream_id, p.expected, highest)
    if not p.bodies:
        return AppendResult(p.stream_id, highest + 1, highest, txn.head)
    seq, head, now = highest, txn.head, txn.now_ms
    if not txn.records:
        txn.first_position = head + 1
    stamps = p.stamps
    stream_ids, seqs, records, encode = txn.stream_ids, txn.seqs, txn.records, codec.encode_record
    for n, body in enumerate(p.bodies):
        seq += 1
        stream_ids.append(p.stream_id)
        seqs.append(seq)
        own = None if stamps is None else stamps[n]
        records.append(encode(p.stream_id, seq, body, now if own is None else own))
    head += len(p.bodies)
    txn.head = head
    row[0] = seq
    return AppendResult(p.stream_id, highest + 1, seq, head)
