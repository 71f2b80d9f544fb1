"""A full consistency scan of a PostgreSQL journal (see ``PgJournal.verify``). Every record and
snapshot it writes is sealed with a CRC-32 (``codec.seal``), so ``no_checksum`` stays empty."""

from __future__ import annotations

import psycopg

from .. import codec
from ..common import check_snapshot, seq_gaps
from ..records import Problem, VerifyReport
from .schema import Names

_CHUNK = 5000


def verify(conn: psycopg.Connection, names: Names) -> VerifyReport:
    """Check every event row and stream row in one snapshot; collect every problem, stop at none."""
    report = VerifyReport()
    problems = report.problems
    seqs: dict[str, list[int]] = {}
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one consistent view of all tables
        head_row = conn.execute(f"SELECT position FROM {names.head} WHERE id = 1").fetchone()
        head = int(head_row[0]) if head_row else 0
        if head_row is None:
            problems.append(Problem("head", None, None, None, "the head row is missing"))
        with conn.cursor("journal_verify", binary=True) as cur:  # server-side: the table need not fit in memory
            cur.itersize = _CHUNK
            cur.execute(f"SELECT position, stream_id, seq, record FROM {names.events} ORDER BY position")
            for position, stream_id, seq, record in cur:
                report.events_checked += 1
                seqs.setdefault(stream_id, []).append(seq)
                if position > head:
                    problems.append(Problem("head", stream_id, seq, position, f"event position {position} is beyond the head {head}"))
                try:
                    event = codec.decode_record(record, position)
                except codec.ChecksumMismatch as e:
                    problems.append(Problem("checksum", stream_id, seq, position, f"{e}: the record was damaged after it was written"))
                    continue
                except codec.DECODE_ERRORS as e:
                    problems.append(Problem("undecodable", stream_id, seq, position, f"cannot decode the record: {e!r}"))
                    continue
                if (event.stream_id, event.seq) != (stream_id, seq):
                    problems.append(Problem("index_mismatch", stream_id, seq, position,
                                            f"the record says stream {event.stream_id!r} seq {event.seq}"))
        for stream_id, highest, deleted_to in conn.execute(f"SELECT stream_id, highest_seq, deleted_to FROM {names.streams} ORDER BY stream_id"):
            report.streams_checked += 1
            seq_gaps(problems, stream_id, sorted(seqs.pop(stream_id, [])), deleted_to, highest)
        for stream_id, present in seqs.items():
            problems.append(Problem("orphan_event", stream_id, min(present), None, "events of a stream with no stream row"))
        for stream_id, seq, value in conn.execute(f"SELECT stream_id, seq, value FROM {names.snapshots} ORDER BY stream_id, seq", binary=True):
            report.snapshots_checked += 1
            check_snapshot(problems, stream_id, seq, value)
    return report
