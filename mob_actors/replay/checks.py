"""The checks ``verify`` runs: one session, one mob or other stream, and the journal's positions.

For each session stream, in one read of its events:

* every record decodes, seqs run ``1, 2, ...`` without gaps up to the stream's highest seq, and
  positions grow (a record out of position order means the index is wrong);
* the events replay through the one :func:`mob_actors.core.state.evolve`, which recomputes the
  conversation digest and message count after every ``turn_applied`` and ``checkpointed`` and
  raises :class:`ReplayMismatch` when one differs from the recorded receipt;
* every snapshot equals the from-scratch state at its seq, and replaying from the newest
  snapshot (what recovery does) ends in the same state, digest included, as replaying from
  scratch (both folds run side by side over the same events, so nothing is read twice).

The first problem of a session is its *divergence*: checking that session stops there, because
every later state depends on it. Mob streams are folded with :func:`mob_actors.core.mob.evolve_mob`;
any other stream is read for damage and seq gaps. A fork's lineage (the source, seq and digest its
first event names) is checked against the source replayed to that seq.

Then the storage, journal-wide (:func:`check_positions`): every position from 1 to the head must
hold exactly one event some stream's index points at, or belong to an event deleted on purpose
(``delete_to``). The reads above note each event's position; a position nobody claimed is read
directly, so a record no index points at (an orphan), an unreadable one and one beyond the head
are all found without decoding the journal a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import journal

from ..core import events as ev
from ..core import snapshots
from ..core.digest import RunningDigest
from ..core.errors import MobError, StoreError
from ..core.mob import MobState, evolve_mob
from ..core.recovery import recover
from ..core.state import ReplayMismatch, SessionState, evolve
from .report import Divergence, StreamReport
from .source import Damaged, Item, read_everything, read_stream


class _Diverged(Exception):
    """Raised inside a check to stop it at the first divergence."""

    def __init__(self, kind: str, seq: int | None, position: int | None, detail: str) -> None:
        super().__init__(detail)
        self.divergence = Divergence(kind, seq, position, detail)


# -- one session ---------------------------------------------------------------------------------


def check_session(
    session_id: str,
    items: Iterable[Item],
    *,
    highest_seq: int,
    deleted_to: int = 0,
    snapshots: list[journal.Snapshot | Damaged] | None = None,
) -> StreamReport:
    """Check one session's events (and its snapshots, oldest first) as described above.

    ``snapshots=None``: the source has no snapshots at all (an export file), so checkpoints
    naming one are not worth a warning.
    """
    report = StreamReport(ev.session_stream(session_id), "session", snapshots=len(snapshots or ()))
    rest = iter(items)
    try:
        _check_session(session_id, rest, highest_seq, deleted_to, snapshots, report)
    except _Diverged as d:
        report.divergence = d.divergence
        _drain(rest, report)
    return report


def _drain(rest: Iterator[Item], report: StreamReport) -> None:
    """Note the positions of a stream's events after its divergence, for the position check."""
    for item in rest:
        if item.position is not None:
            report.positions.append(item.position)


def _check_session(
    session_id: str, items: Iterator[Item], highest_seq: int, deleted_to: int,
    snapshots: list[journal.Snapshot | Damaged] | None, report: StreamReport,
) -> None:
    # This loop runs once per event of the journal: the common path is kept to a few compares
    # and one evolve; snapshots and checkpoints take the rare branch.
    if deleted_to:
        raise _Diverged("missing", 1, None, f"events 1..{deleted_to} were deleted; the session cannot be replayed from scratch")
    has_snapshots = snapshots is not None
    # (list_snapshots names the seq of every snapshot it hands out, damaged ones included.)
    by_seq = {s.seq: s for s in snapshots or () if s.seq is not None}
    pending = sorted(by_seq)  # snapshot seqs not reached yet
    next_snapshot = pending[0] if pending else highest_seq + 1
    newest = pending[-1] if pending else None
    checkpointed = ev.CHECKPOINTED.name
    scratch: SessionState | None = None
    from_snapshot: SessionState | None = None  # the fold recovery would run, from the newest snapshot
    expected = 1
    last_position = 0
    event: journal.RecordedEvent | None = None
    note_position = report.positions.append
    try:
        for item in items:
            if isinstance(item, Damaged):
                if item.position is not None:
                    note_position(item.position)
                raise _Diverged("damaged", item.seq, item.position, f"the record cannot be read: {item.reason}")
            note_position(item.position)
            event = item
            seq = item.seq
            if seq != expected:
                raise _Diverged("seq_gap", expected, item.position, f"expected seq {expected}, the journal gives seq {seq} next")
            if item.position <= last_position:
                raise _Diverged("position_order", seq, item.position,
                                f"position {item.position} is not after the previous event's position {last_position}")
            last_position = item.position
            scratch = evolve(scratch, item)  # checks the digest and count a turn or checkpoint recorded
            expected = seq + 1
            if from_snapshot is not None:
                from_snapshot = _apply_from_snapshot(from_snapshot, item, newest)
            if seq == 1 and scratch.id != session_id:
                raise _Diverged("replay", 1, item.position, f"session_created names session {scratch.id}, not {session_id}")
            if item.type == checkpointed and has_snapshots and item.data.get("snapshot_seq") not in by_seq and not _pruned(item.data, by_seq):
                # Snapshots older than the oldest one kept were deleted by retention (keep_snapshots)
                # or journal.delete_snapshots: not a defect. A newer one missing is worth a warning.
                named = item.data.get("snapshot_seq")
                report.warnings.append(f"seq {seq}: the checkpointed event names a snapshot at seq {named}, which is not in the journal")
            if seq >= next_snapshot:
                snap_seq = pending.pop(0)
                snap = by_seq[snap_seq]
                next_snapshot = pending[0] if pending else highest_seq + 1
                if snap_seq < seq:  # only possible for a snapshot at a seq with no event
                    raise _Diverged("snapshot", snap_seq, None, f"there is a snapshot at seq {snap_seq} but no event with that seq")
                _compare_snapshot(snap, scratch, item.position)
                if snap_seq == newest:
                    assert isinstance(snap, journal.Snapshot)
                    from_snapshot = SessionState.from_snapshot(snap.state)
    except ReplayMismatch as e:
        assert event is not None
        # The exception's own text ends by advising `mob-replay verify`: this is it, so say it plainly.
        what = "message_count" if e.what == "message_count" else "digest"
        detail = (f"session {session_id} seq {e.seq}: replayed {e.what} {e.replayed!r} differs from the recorded "
                  f"{e.recorded!r}; the journal is damaged or was written by incompatible code")
        raise _Diverged(what, event.seq, event.position, detail) from None
    except (StoreError, KeyError, TypeError, ValueError, AttributeError) as e:
        # KeyError & co: the event lacks a field events.py defines (damaged or foreign data).
        assert event is not None
        raise _Diverged("replay", event.seq, event.position, f"{event.type} does not apply: {e!r}") from None
    finally:
        report.events = expected - 1
    if expected - 1 != highest_seq:
        raise _Diverged("missing", expected, None, f"the stream's highest seq is {highest_seq} but its events end at seq {expected - 1}")
    if pending:
        raise _Diverged("snapshot", pending[0], None, f"there is a snapshot at seq {pending[0]}, after the last event (seq {expected - 1})")
    if scratch is None:
        return
    report.digest = scratch.digest.hexdigest()
    report.message_count = len(scratch.messages)
    if from_snapshot is not None:
        # The snapshot equalled the scratch state where it was taken; the two folds must agree at the end too.
        replayed = from_snapshot.digest.hexdigest()
        if replayed != report.digest or len(from_snapshot.messages) != report.message_count or from_snapshot.seq != scratch.seq:
            raise _Diverged("snapshot_replay", highest_seq, None,
                            f"replaying from the snapshot at seq {newest} ends with digest {replayed} "
                            f"({len(from_snapshot.messages)} messages), from scratch {report.digest} ({report.message_count})")


def _apply_from_snapshot(state: SessionState, event: journal.RecordedEvent, snapshot_seq: int | None) -> SessionState:
    try:
        return evolve(state, event)
    except (StoreError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise _Diverged("snapshot_replay", event.seq, event.position,
                        f"replaying from the snapshot at seq {snapshot_seq}: {event.type} does not apply: {e}") from None


def _compare_snapshot(snap: journal.Snapshot | Damaged, state: SessionState, position: int) -> None:
    if isinstance(snap, Damaged):
        raise _Diverged("snapshot", snap.seq, None, f"the snapshot at seq {snap.seq} cannot be read: {snap.reason}")
    what = _first_difference(snap.state, state.to_snapshot())
    if what is not None:
        raise _Diverged("snapshot", snap.seq, position, f"the snapshot at seq {snap.seq} differs from the replayed state: {what}")


def _first_difference(saved: Any, replayed: dict[str, Any]) -> str | None:
    """Name the first field where a saved snapshot differs from the replayed one (None: equal)."""
    if saved == replayed:
        return None
    if not isinstance(saved, dict):
        return f"the snapshot is a {type(saved).__name__}, not a dict"
    for key in sorted(set(saved) | set(replayed)):
        a, b = saved.get(key), replayed.get(key)
        if a == b:
            continue
        if key == "messages" and isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b)):  # noqa: B905 - lengths may differ
                if x != y:
                    return f"message {i} is {_short(x)} in the snapshot, {_short(y)} replayed"
            return f"the snapshot has {len(a)} messages, the replay {len(b)}"
        return f"{key} is {_short(a)} in the snapshot, {_short(b)} replayed"
    return "the values differ"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "\u2026"


def _pruned(data: Any, by_seq: dict[int, Any]) -> bool:
    """Whether a checkpointed event names a snapshot older than every snapshot still kept."""
    named = data.get("snapshot_seq")
    return isinstance(named, int) and bool(by_seq) and named < min(by_seq)


def list_snapshots(j: journal.EventJournal, stream_id: str, max_seq: int | None = None) -> list[journal.Snapshot | Damaged]:
    """Every snapshot of a stream up to ``max_seq``, oldest first (walking down with ``load_snapshot``).

    A snapshot stored as a head plus message parts is handed out whole (its parts read back in,
    see :mod:`mob_actors.core.snapshots`); one with a missing part is handed out as damaged.
    """
    out: list[journal.Snapshot | Damaged] = []
    upper = max_seq
    while upper is None or upper >= 1:
        try:
            snap = j.load_snapshot(stream_id, max_seq=upper)
        except journal.CorruptRecord as e:
            if e.seq is None:
                break
            out.append(Damaged(stream_id, e.seq, None, str(e.__cause__ or e)))
            upper = e.seq - 1
            continue
        if snap is None:
            break
        try:
            out.append(snap._replace(state=snapshots.materialize(j, stream_id, snap.state)))
        except StoreError as e:
            out.append(Damaged(stream_id, snap.seq, None, str(e)))
        upper = snap.seq - 1
    out.reverse()
    return out


def verify_session(j: journal.EventJournal, session_id: str, highest_seq: int | None = None, deleted_to: int = 0) -> StreamReport:
    """Check one session of an open journal."""
    stream = ev.session_stream(session_id)
    if highest_seq is None:
        highest_seq = j.highest_seq(stream)
    # Read up to the highest seq seen when the work was planned: a running host may be appending,
    # and what it appends later is not part of this check (nor a missing-event false alarm).
    report = check_session(
        session_id, read_stream(j, stream, from_seq=deleted_to + 1, to_seq=highest_seq), highest_seq=highest_seq,
        deleted_to=deleted_to, snapshots=list_snapshots(j, stream, highest_seq),
    )
    if report.ok and highest_seq:
        problem = check_lineage(j, session_id)
        if problem is not None:
            report.divergence = Divergence("lineage", 1, None, problem)
    return report


def check_lineage(j: journal.EventJournal, session_id: str) -> str | None:
    """What is wrong with a fork's lineage (None if it is no fork, or its lineage holds): the
    source must replay, up to the seq its first event names, to the digest and count it recorded,
    and the fork must start from exactly that conversation."""
    first = next(iter(j.read(ev.session_stream(session_id), to_seq=1)), None)
    if first is None or not isinstance(first.data, dict) or first.data.get("forked_from") is None:
        return None
    lineage = first.data["forked_from"]
    try:
        source_id, seq, digest, count = lineage["source_id"], lineage["seq"], lineage["digest"], lineage["message_count"]
        own = RunningDigest(first.data["messages"]).hexdigest()
        if own != digest or len(first.data["messages"]) != count:
            return f"the fork starts with digest {own} ({len(first.data['messages'])} messages), its lineage says {digest} ({count})"
        source = recover(j, source_id, to_seq=seq)
    except (KeyError, TypeError, ValueError, StoreError) as e:
        return f"the lineage {lineage!r} cannot be checked: {e!r}"
    if source is None or source.seq != seq:
        return f"forked from session {source_id} at seq {seq}, which the journal does not hold"
    replayed = source.digest.hexdigest()
    if replayed != digest or len(source.messages) != count:
        return f"forked from session {source_id} at seq {seq}, which replays to digest {replayed} ({len(source.messages)} messages), not {digest} ({count})"
    return None


# -- mobs and other streams ----------------------------------------------------------------------


def verify_stream(j: journal.EventJournal, stream_id: str, kind: str, highest_seq: int, deleted_to: int) -> StreamReport:
    """Read a mob stream (folded with the mob fold) or any other stream; check damage and seqs.

    A destroyed mob keeps only its last events (``delete_to``), so reading starts after them.
    """
    report = StreamReport(stream_id, kind)
    state = MobState(stream_id.split(":", 1)[1]) if kind == "mob" else None
    expected = deleted_to + 1
    rest = read_stream(j, stream_id, from_seq=deleted_to + 1, to_seq=highest_seq)
    try:
        for item in rest:
            if item.position is not None:
                report.positions.append(item.position)
            if isinstance(item, Damaged):
                raise _Diverged("damaged", item.seq, item.position, f"the record cannot be read: {item.reason}")
            if item.seq != expected:
                raise _Diverged("seq_gap", expected, item.position, f"expected seq {expected}, the journal gives seq {item.seq} next")
            if state is not None:
                try:
                    state = evolve_mob(state, item)
                except (MobError, KeyError, TypeError, ValueError, AttributeError) as e:
                    raise _Diverged("replay", item.seq, item.position, f"{item.type} does not apply: {e!r}") from None
            expected += 1
            report.events += 1
        if expected - 1 != highest_seq:
            raise _Diverged("missing", expected, None,
                            f"the stream's highest seq is {highest_seq} but its events end at seq {expected - 1}")
    except _Diverged as d:
        report.divergence = d.divergence
        _drain(rest, report)
    return report



def check_positions(j: journal.EventJournal, streams: list[StreamReport], head: int) -> list[journal.Problem]:
    """Every position 1..head holds one indexed event, or one deleted on purpose (see the module doc)."""
    problems: list[journal.Problem] = []
    seen = bytearray(head + 1)
    seen[0] = 1
    for report in streams:
        for position in report.positions:
            if position > head or position < 1:
                detail = f"an event at position {position}, beyond the head {head}"
                problems.append(journal.Problem("head", report.stream_id, None, position, detail))
            elif seen[position]:
                detail = f"position {position} is claimed by two index entries"
                problems.append(journal.Problem("index_mismatch", report.stream_id, None, position, detail))
            else:
                seen[position] = 1
    # Unclaimed runs of positions: read what is stored there. Normally nothing (deleted events).
    start = seen.find(0)
    while start != -1:
        end = seen.find(1, start)
        end = head + 1 if end == -1 else end
        problems.extend(_unclaimed(j, start, end))
        start = seen.find(0, end)
    problems.extend(_unclaimed(j, head + 1, None))  # nothing may be stored beyond the head
    return problems


def _unclaimed(j: journal.EventJournal, start: int, end: int | None) -> list[journal.Problem]:
    """Problems with records stored at positions ``start..end-1`` that no read above claimed."""
    problems = []
    for item in read_everything_between(j, start, end):
        if isinstance(item, Damaged):
            detail = f"cannot decode the record: {item.reason}"
            problems.append(journal.Problem("undecodable", item.stream_id, item.seq, item.position, detail))
            continue
        # Appended by a running host after the plan was made? Then its stream's index has it.
        indexed = next(iter(j.read(item.stream_id, from_seq=item.seq, to_seq=item.seq)), None) if item.stream_id else None
        if indexed is not None and indexed.position == item.position:
            continue
        kind = "orphan_event" if end is not None else "head"
        problems.append(journal.Problem(kind, item.stream_id, item.seq, item.position,
                                        "no index entry points at this event" if end is not None else "a record beyond the head"))
    return problems


def read_everything_between(j: journal.EventJournal, start: int, end: int | None) -> Iterator[Item]:
    """The records stored at positions ``start..end-1`` (``end=None``: to the last one)."""
    for item in read_everything(j, after=start - 1):
        if end is not None and item.position is not None and item.position >= end:
            return
        yield item


