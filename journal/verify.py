"""A full consistency scan of a journal's storage (see :meth:`Journal.verify`)."""

from __future__ import annotations

from . import codec
from .common import check_snapshot, seq_gaps
from .records import Problem, VerifyReport
from .storage import Dbs, Storage, Txn


def verify(storage: Storage) -> VerifyReport:
    """Check every event, index entry and stream row; collect every problem, stop at none."""
    return storage.read(lambda txn: _verify(txn, storage.dbs))


def _verify(txn: Txn, dbs: Dbs) -> VerifyReport:
    report = VerifyReport()
    problems = report.problems
    raw_head = txn.get(b"head", db=dbs["meta"])
    head = codec.from_u64(raw_head) if raw_head else 0

    # index: (stream, seq) -> position, and the reverse to name records that cannot be decoded.
    by_position: dict[int, tuple[str, int]] = {}
    seqs: dict[str, list[int]] = {}
    for key, pos_raw in txn.cursor(db=dbs["index"]):
        stream_id, seq = codec.split_seq_key(key)
        pos = codec.from_u64(pos_raw)
        by_position[pos] = (stream_id, seq)
        seqs.setdefault(stream_id, []).append(seq)

    seen_positions: set[int] = set()
    for key, value in txn.cursor(db=dbs["events"]):
        pos = codec.from_u64(key)
        seen_positions.add(pos)
        report.events_checked += 1
        expected = by_position.get(pos)
        if pos > head:
            problems.append(Problem("head", None, None, pos, f"event position {pos} is beyond the head {head}"))
        if not codec.is_sealed(value):
            _note_unsealed(report.no_checksum, pos)
        try:
            event = codec.decode_record(value, pos)
        except codec.ChecksumMismatch as e:
            named, numbered = expected or (None, None)
            problems.append(Problem("checksum", named, numbered, pos, f"{e}: the record was damaged after it was written"))
            continue
        except codec.DECODE_ERRORS as e:
            named, numbered = expected or (None, None)
            problems.append(Problem("undecodable", named, numbered, pos, f"cannot decode the record: {e!r}"))
            continue
        if expected is None:
            problems.append(Problem("orphan_event", event.stream_id, event.seq, pos, "no index entry points at this event"))
        elif expected != (event.stream_id, event.seq):
            problems.append(
                Problem("index_mismatch", expected[0], expected[1], pos,
                        f"the record says stream {event.stream_id!r} seq {event.seq}")
            )
    for pos, (stream_id, seq) in by_position.items():
        if pos not in seen_positions:
            problems.append(Problem("missing_event", stream_id, seq, pos, "the index points at a missing event"))

    for key, value in txn.cursor(db=dbs["streams"]):
        stream_id = key.decode("utf-8")
        report.streams_checked += 1
        try:
            highest, deleted_to = codec.unpack(value)
        except codec.DECODE_ERRORS as e:
            problems.append(Problem("undecodable", stream_id, None, None, f"cannot decode the stream row: {e!r}"))
            continue
        seq_gaps(problems, stream_id, seqs.pop(stream_id, []), deleted_to, highest)  # the index is in seq order
    for stream_id, present in seqs.items():
        problems.append(Problem("index_mismatch", stream_id, present[0], None, "index entries for a stream with no stream row"))

    for key, value in txn.cursor(db=dbs["snapshots"]):
        stream_id, seq = codec.split_seq_key(key)
        report.snapshots_checked += 1
        if not codec.is_sealed(value, snapshot=True):
            report.no_checksum_snapshots.append((stream_id, seq))
        check_snapshot(problems, stream_id, seq, value)
    return report


def _note_unsealed(runs: list[tuple[int, int]], position: int) -> None:
    """Add ``position`` to runs of consecutive positions: old journals have one long run."""
    if runs and runs[-1][1] == position - 1:
        runs[-1] = (runs[-1][0], position)
    else:
        runs.append((position, position))
