"""``verify``: replay every session and check it against everything the journal recorded.

For each session stream, in one read of its events:

* every record decodes, seqs run ``1, 2, ...`` without gaps up to the stream's highest seq, and
  positions grow (a record out of position order means the index is wrong);
* the events replay through the one :func:`mob_actors.state.evolve`, which recomputes the
  conversation digest and message count after every ``turn_applied`` and ``checkpointed`` and
  raises :class:`ReplayMismatch` when one differs from the recorded receipt;
* every snapshot equals the from-scratch state at its seq, and replaying from the newest
  snapshot (what recovery does) ends in the same state, digest included, as replaying from
  scratch (both folds run side by side over the same events, so nothing is read twice).

The first problem of a session is its *divergence*: checking that session stops there, because
every later state depends on it. Mob streams are folded with :func:`mob_actors.mob_state.evolve_mob`;
any other stream is read for damage and seq gaps.

Then the storage, journal-wide: every position from 1 to the head must hold exactly one event
some stream's index points at, or belong to an event deleted on purpose (``delete_to``). The
reads above note each event's position; a position nobody claimed is read directly, so a record
no index points at (an orphan), an unreadable one and one beyond the head are all found without
decoding the journal a second time. ``storage=True`` (``--storage``) adds ``journal.verify()``,
the journal's own full scan, which also reads the index on its own; it costs another decode of
every record, so it is not the default.

Sessions are independent, so a large journal is checked by forked worker processes, each with
its own read-only open of the journal (LMDB readers do not block each other or the writer).
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import logging
import multiprocessing
import os
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import journal

from ..core import events as ev
from ..core.errors import MobError, StoreError
from ..core.mob import MobState, evolve_mob
from ..core.state import ReplayMismatch, SessionState, evolve
from .source import Damaged, Item, open_journal, read_everything, read_stream

log = logging.getLogger(__name__)

# Below this many events one process is quicker than starting workers.
PARALLEL_MIN_EVENTS = 5_000
MAX_JOBS = 8


@dataclass
class Divergence:
    """The first thing about a stream that does not check out."""

    kind: str  # damaged | seq_gap | position_order | replay | digest | message_count | snapshot | snapshot_replay | missing
    seq: int | None
    position: int | None
    detail: str


@dataclass
class StreamReport:
    """The result of checking one stream (a session, a mob, or any other)."""

    stream_id: str
    kind: str  # "session", "mob" or "stream"
    events: int = 0
    snapshots: int = 0
    digest: str | None = None  # the final conversation digest (sessions that replay)
    message_count: int | None = None
    divergence: Divergence | None = None
    warnings: list[str] = field(default_factory=list)
    positions: array = field(default_factory=lambda: array("q"), repr=False)  # of every event read

    @property
    def ok(self) -> bool:
        return self.divergence is None

    @property
    def id(self) -> str:
        return self.stream_id.split(":", 1)[1] if self.kind != "stream" else self.stream_id

    def to_json(self) -> dict:
        return {
            "id": self.id, "ok": self.ok, "stream_id": self.stream_id, "kind": self.kind, "events": self.events,
            "snapshots": self.snapshots, "digest": self.digest, "message_count": self.message_count,
            "divergence": self.divergence.__dict__ if self.divergence else None, "warnings": self.warnings,
        }


@dataclass
class Report:
    """Everything ``verify`` found."""

    streams: list[StreamReport] = field(default_factory=list)
    positions_checked: bool = False  # the journal-wide position check ran (not for one session)
    problems: list[journal.Problem] = field(default_factory=list)  # storage-level
    full_scan: journal.VerifyReport | None = None  # journal.verify(), with storage=True
    processes: int = 1  # how many processes did the checking (worker processes, or this one)

    @property
    def bad(self) -> list[StreamReport]:
        return [s for s in self.streams if not s.ok]

    @property
    def ok(self) -> bool:
        return not self.bad and not self.problems

    @property
    def events_checked(self) -> int:
        return sum(s.events for s in self.streams)

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "sessions_checked": sum(1 for s in self.streams if s.kind == "session"),
            "mobs_checked": sum(1 for s in self.streams if s.kind == "mob"),
            "other_streams_checked": sum(1 for s in self.streams if s.kind == "stream"),
            "events_checked": self.events_checked,
            "processes": self.processes,
            "bad": len(self.bad),
            "streams": [s.to_json() for s in self.streams],
            "storage": {
                "positions_checked": self.positions_checked,
                "full_scan": self.full_scan is not None,
                "records_scanned": self.full_scan.events_checked if self.full_scan else None,
                "ok": not self.problems,
                "problems": [p._asdict() for p in self.problems],
            },
        }


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
    by_seq = {s.seq: s for s in snapshots or ()}
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
            if item.type == checkpointed and has_snapshots and item.data.get("snapshot_seq") not in by_seq:
                # Snapshots may be pruned (journal.delete_snapshots), so this alone is not a defect.
                named = item.data.get("snapshot_seq")
                report.warnings.append(f"seq {seq}: the checkpointed event names a snapshot at seq {named}, which is not in the journal")
            if seq >= next_snapshot:
                snap = by_seq[pending.pop(0)]
                next_snapshot = pending[0] if pending else highest_seq + 1
                if snap.seq < seq:  # only possible for a snapshot at a seq with no event
                    raise _Diverged("snapshot", snap.seq, None, f"there is a snapshot at seq {snap.seq} but no event with that seq")
                _compare_snapshot(snap, scratch, item.position)
                if snap.seq == newest:
                    assert isinstance(snap, journal.Snapshot)
                    from_snapshot = SessionState.from_snapshot(snap.state)
    except ReplayMismatch as e:
        assert event is not None
        what = "message_count" if "message_count" in str(e) else "digest"
        raise _Diverged(what, event.seq, event.position, str(e)) from None
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


def _first_difference(saved: Any, replayed: dict) -> str | None:
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


def list_snapshots(j: journal.Journal, stream_id: str, max_seq: int | None = None) -> list[journal.Snapshot | Damaged]:
    """Every snapshot of a stream up to ``max_seq``, oldest first (walking down with ``load_snapshot``)."""
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
        out.append(snap)
        upper = snap.seq - 1
    out.reverse()
    return out


def verify_session(j: journal.Journal, session_id: str, highest_seq: int | None = None, deleted_to: int = 0) -> StreamReport:
    """Check one session of an open journal."""
    stream = ev.session_stream(session_id)
    if highest_seq is None:
        highest_seq = j.highest_seq(stream)
    # Read up to the highest seq seen when the work was planned: a running host may be appending,
    # and what it appends later is not part of this check (nor a missing-event false alarm).
    return check_session(
        session_id, read_stream(j, stream, from_seq=deleted_to + 1, to_seq=highest_seq), highest_seq=highest_seq,
        deleted_to=deleted_to, snapshots=list_snapshots(j, stream, highest_seq),
    )


# -- mobs and other streams ----------------------------------------------------------------------


def verify_stream(j: journal.Journal, stream_id: str, kind: str, highest_seq: int, deleted_to: int) -> StreamReport:
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


# -- the whole journal -----------------------------------------------------------------------------

Task = tuple[str, str, int, int]  # (kind, stream id, highest_seq, deleted_to)


def plan(j: journal.Journal, session_id: str | None = None) -> list[Task]:
    """What to check: every stream (or one session), with its bounds as of now."""
    if session_id is not None:
        stream = ev.session_stream(session_id)
        info = next((i for i in j.streams(stream) if i.stream_id == stream), None)
        return [("session", stream, info.highest_seq if info else 0, info.deleted_to if info else 0)]
    tasks: list[Task] = []
    for info in j.streams():
        if info.stream_id.startswith(ev.SESSION_STREAM_PREFIX):
            kind = "session"
        elif info.stream_id.startswith(ev.MOB_STREAM_PREFIX):
            kind = "mob"
        else:
            kind = "stream"
        tasks.append((kind, info.stream_id, info.highest_seq, info.deleted_to))
    return tasks


def check_tasks(j: journal.Journal, tasks: Iterable[Task]) -> Iterator[StreamReport]:
    for kind, stream_id, highest, deleted_to in tasks:
        if kind == "session":
            yield verify_session(j, stream_id[len(ev.SESSION_STREAM_PREFIX):], highest, deleted_to)
        else:
            yield verify_stream(j, stream_id, kind, highest, deleted_to)


def check_positions(j: journal.Journal, streams: list[StreamReport], head: int) -> list[journal.Problem]:
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


def _unclaimed(j: journal.Journal, start: int, end: int | None) -> list[journal.Problem]:
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


def read_everything_between(j: journal.Journal, start: int, end: int | None) -> Iterator[Item]:
    """The records stored at positions ``start..end-1`` (``end=None``: to the last one)."""
    for item in read_everything(j, after=start - 1):
        if end is not None and item.position is not None and item.position >= end:
            return
        yield item


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    # Replay allocates millions of small dicts and lists and frees none of them in cycles; the
    # cyclic collector would rescan the growing heap over and over (a third of the time).
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


Progress = Callable[[int], None]  # called with a number of events just checked


def verify(
    path: str,
    session_id: str | None = None,
    *,
    storage: bool = False,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> Report:
    """Check one session, or every stream and the positions of the whole journal.

    ``path`` is the journal directory: this opens it read-only itself, because worker processes
    must be started while this process has no LMDB environment of it open (see below).
    ``storage``: also run ``journal.verify()`` (a second full decode of the journal).
    ``jobs``: worker processes (None: one per CPU when the journal is large, else none).
    ``on_plan(total_events)`` is called once the work is known, then ``progress(n)`` as it is done.
    """
    with open_journal(path) as j:
        tasks = plan(j, session_id)
    total = sum(t[2] - t[3] for t in tasks)
    if on_plan is not None:
        on_plan(total)
    whole = session_id is None
    if jobs is None:
        jobs = min(os.cpu_count() or 1, MAX_JOBS) if total >= PARALLEL_MIN_EVENTS else 1
    report = Report()
    with _no_cyclic_gc():
        done = None
        if jobs > 1 and len(tasks) > 1:
            done = _verify_parallel(path, tasks, jobs, storage and whole, progress)
            report.processes = jobs if done is not None else 1
        if done is None:
            done = _verify_here(path, tasks, storage and whole, progress)
        report.streams, report.full_scan = done
        order = {t[1]: i for i, t in enumerate(tasks)}
        report.streams.sort(key=lambda r: order.get(r.stream_id, 0))
        if whole:
            with open_journal(path) as j:
                # The head now, after every read: all positions read are at or below it.
                report.problems = check_positions(j, report.streams, j.head())
            report.positions_checked = True
        if report.full_scan is not None:
            known = {(p.kind, p.position) for p in report.problems}
            report.problems += [p for p in report.full_scan.problems if (p.kind, p.position) not in known]
    return report


def _verify_here(
    path: str, tasks: list[Task], storage: bool, progress: Progress | None
) -> tuple[list[StreamReport], journal.VerifyReport | None]:
    streams = []
    with open_journal(path) as j:
        for r in check_tasks(j, tasks):
            streams.append(r)
            if progress:
                progress(r.events)
        return streams, j.verify() if storage else None


# -- worker processes ------------------------------------------------------------------------------
#
# Workers are forked: that is cheap (no interpreter start, no imports, no re-running the main
# script as spawn/forkserver do). Forking is only safe when this process runs no other thread
# (a lock held by one would stay locked in the child forever) and has no LMDB environment of the
# journal open (py-lmdb refuses to open a second one in a forked child, and LMDB forbids using
# the inherited one). When either cannot be had, verify runs in this process instead.

_worker_journal: journal.Journal | None = None


def _worker_init(path: str) -> None:
    global _worker_journal
    gc.disable()  # see _no_cyclic_gc; a worker lives only for this verify
    _worker_journal = open_journal(path)


def _worker_check(tasks: list[Task]) -> list[StreamReport]:
    assert _worker_journal is not None
    return list(check_tasks(_worker_journal, tasks))


def _worker_storage() -> journal.VerifyReport:
    assert _worker_journal is not None
    return _worker_journal.verify()


def _chunks(tasks: list[Task], jobs: int) -> list[list[Task]]:
    """Split into chunks of similar event counts, several per worker so they finish together."""
    total = sum(t[2] - t[3] for t in tasks) or 1
    target = max(total // (jobs * 8), 1)
    chunks: list[list[Task]] = [[]]
    size = 0
    for t in tasks:
        if size >= target:
            chunks.append([])
            size = 0
        chunks[-1].append(t)
        size += t[2] - t[3]
    return chunks


def _verify_parallel(
    path: str, tasks: list[Task], jobs: int, storage: bool, progress: Progress | None
) -> tuple[list[StreamReport], journal.VerifyReport | None] | None:
    """The work spread over ``jobs`` forked workers; None if they cannot be used here."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return None
    streams: list[StreamReport] = []
    try:
        with cf.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                    initializer=_worker_init, initargs=(path,)) as pool:
            # The storage scan is one long task: start it first so it overlaps with the replays.
            storage_future = pool.submit(_worker_storage) if storage else None
            futures = [pool.submit(_worker_check, chunk) for chunk in _chunks(tasks, jobs)]
            for future in cf.as_completed(futures):
                reports = future.result()
                streams.extend(reports)
                if progress:
                    progress(sum(r.events for r in reports))
            return streams, storage_future.result() if storage_future else None
    except cf.process.BrokenProcessPool:
        # A worker could not open the journal: most likely this process still has it open
        # elsewhere (see above). Nothing was reported yet; do it all here.
        log.info("verify: worker processes failed; checking in this process instead")
        return None
