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
every later state depends on it. Mob streams are folded with :func:`mob_actors.mob_state.evolve_mob`,
and ``journal.verify()`` adds the storage-level problems (undecodable records, index errors, gaps).

Sessions are independent, so a large journal is checked by several worker processes, each with
its own read-only open of the journal (LMDB readers do not block each other or the writer).
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import journal

from .. import events as ev
from ..errors import MobError, StoreError
from ..mob_state import MobState, evolve_mob
from ..state import ReplayMismatch, SessionState, evolve
from .source import Damaged, Item, open_journal, read_stream

# Below this many events one process is quicker than starting workers.
PARALLEL_MIN_EVENTS = 20_000
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
    """The result of checking one session or mob stream."""

    stream_id: str
    kind: str  # "session" or "mob"
    events: int = 0
    snapshots: int = 0
    digest: str | None = None  # the final conversation digest (sessions that replay)
    message_count: int | None = None
    divergence: Divergence | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.divergence is None

    @property
    def id(self) -> str:
        return self.stream_id.split(":", 1)[1]

    def to_json(self) -> dict:
        return {"id": self.id, "ok": self.ok, **asdict(self)}


@dataclass
class Report:
    """Everything ``verify`` found."""

    streams: list[StreamReport] = field(default_factory=list)
    storage: journal.VerifyReport | None = None  # None when the storage scan was skipped

    @property
    def bad(self) -> list[StreamReport]:
        return [s for s in self.streams if not s.ok]

    @property
    def ok(self) -> bool:
        return not self.bad and (self.storage is None or self.storage.ok)

    @property
    def events_checked(self) -> int:
        return sum(s.events for s in self.streams)

    def to_json(self) -> dict:
        storage = None
        if self.storage is not None:
            storage = {
                "ok": self.storage.ok,
                "events_checked": self.storage.events_checked,
                "streams_checked": self.storage.streams_checked,
                "problems": [p._asdict() for p in self.storage.problems],
            }
        return {
            "ok": self.ok,
            "sessions_checked": sum(1 for s in self.streams if s.kind == "session"),
            "mobs_checked": sum(1 for s in self.streams if s.kind == "mob"),
            "events_checked": self.events_checked,
            "bad": len(self.bad),
            "streams": [s.to_json() for s in self.streams],
            "storage": storage,
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
    try:
        _check_session(session_id, items, highest_seq, deleted_to, snapshots, report)
    except _Diverged as d:
        report.divergence = d.divergence
    return report


def _check_session(
    session_id: str, items: Iterable[Item], highest_seq: int, deleted_to: int,
    snapshots: list[journal.Snapshot | Damaged] | None, report: StreamReport,
) -> None:
    has_snapshots = snapshots is not None
    snapshots = snapshots or []
    if deleted_to:
        raise _Diverged("missing", 1, None, f"events 1..{deleted_to} were deleted; the session cannot be replayed from scratch")
    by_seq = {s.seq: s for s in snapshots}
    newest = snapshots[-1].seq if snapshots else None
    pending = sorted(by_seq)  # snapshot seqs not reached yet
    scratch: SessionState | None = None
    from_snapshot: SessionState | None = None  # the fold recovery would run, from the newest snapshot
    expected = 1
    last_position = 0
    for item in items:
        if isinstance(item, Damaged):
            raise _Diverged("damaged", item.seq, item.position, f"the record cannot be read: {item.reason}")
        seq = item.seq
        if seq != expected:
            raise _Diverged("seq_gap", expected, item.position, f"expected seq {expected}, the journal gives seq {seq} next")
        if item.position <= last_position:
            raise _Diverged("position_order", seq, item.position,
                            f"position {item.position} is not after the previous event's position {last_position}")
        last_position = item.position
        scratch = _apply(scratch, item, "replay")
        if seq == 1 and scratch.id != session_id:
            raise _Diverged("replay", 1, item.position, f"session_created names session {scratch.id}, not {session_id}")
        if from_snapshot is not None:
            from_snapshot = _apply(from_snapshot, item, "snapshot_replay")
        if item.type == ev.CHECKPOINTED.name:
            named = item.data.get("snapshot_seq")
            if has_snapshots and named not in by_seq:
                # Snapshots may be pruned (journal.delete_snapshots), so this alone is not a defect.
                report.warnings.append(f"seq {seq}: the checkpointed event names a snapshot at seq {named}, which is not in the journal")
        while pending and pending[0] <= seq:
            snap_seq = pending.pop(0)
            if snap_seq < seq:  # only possible for a snapshot at a seq with no event
                raise _Diverged("snapshot", snap_seq, None, f"there is a snapshot at seq {snap_seq} but no event with that seq")
            snap = by_seq[snap_seq]
            _compare_snapshot(snap, scratch, item.position)
            if snap_seq == newest:
                assert isinstance(snap, journal.Snapshot)
                from_snapshot = SessionState.from_snapshot(snap.state)
        expected = seq + 1
        report.events += 1
    if expected - 1 != highest_seq:
        raise _Diverged("missing", expected, None, f"the stream's highest seq is {highest_seq} but its events end at seq {expected - 1}")
    if pending:
        raise _Diverged("snapshot", pending[0], None, f"there is a snapshot at seq {pending[0]}, after the last event (seq {expected - 1})")
    if scratch is None:
        return
    report.digest = scratch.digest.hexdigest()
    report.message_count = len(scratch.messages)
    if from_snapshot is not None:
        replayed = from_snapshot.digest.hexdigest()
        if replayed != report.digest:
            raise _Diverged("snapshot_replay", highest_seq, None,
                            f"replaying from the snapshot at seq {newest} ends with digest {replayed}, from scratch {report.digest}")
        what = _first_difference(from_snapshot.to_snapshot(), scratch.to_snapshot())
        if what is not None:
            raise _Diverged("snapshot_replay", highest_seq, None,
                            f"replaying from the snapshot at seq {newest} ends in a different state than from scratch: {what}")


def _apply(state: SessionState | None, event: journal.RecordedEvent, kind: str) -> SessionState:
    try:
        return evolve(state, event)
    except ReplayMismatch as e:
        what = "message_count" if "message_count" in str(e) else "digest"
        raise _Diverged(what if kind == "replay" else kind, event.seq, event.position, str(e)) from None
    except (StoreError, KeyError, TypeError, ValueError, AttributeError) as e:
        # KeyError & co: the event lacks a field events.py defines (damaged or foreign data).
        raise _Diverged(kind, event.seq, event.position, f"{event.type} does not apply: {e!r}") from None


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
            for i, (x, y) in enumerate(zip(a, b)):
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


# -- one mob -------------------------------------------------------------------------------------


def verify_mob(j: journal.Journal, mob_id: str, highest_seq: int, deleted_to: int) -> StreamReport:
    """Fold a mob stream with the mob fold; check its seqs. Destroyed mobs keep only their last events."""
    stream = ev.mob_stream(mob_id)
    report = StreamReport(stream, "mob")
    state = MobState(mob_id)
    expected = deleted_to + 1
    try:
        for item in read_stream(j, stream, from_seq=deleted_to + 1, to_seq=highest_seq):
            if isinstance(item, Damaged):
                raise _Diverged("damaged", item.seq, item.position, f"the record cannot be read: {item.reason}")
            if item.seq != expected:
                raise _Diverged("seq_gap", expected, item.position, f"expected seq {expected}, the journal gives seq {item.seq} next")
            try:
                state = evolve_mob(state, item)
            except (MobError, KeyError, TypeError, ValueError, AttributeError) as e:
                raise _Diverged("replay", item.seq, item.position, f"{item.type} does not apply: {e!r}") from None
            expected += 1
            report.events += 1
        if expected - 1 != highest_seq:
            raise _Diverged("missing", expected, None, f"the stream's highest seq is {highest_seq} but its events end at seq {expected - 1}")
    except _Diverged as d:
        report.divergence = d.divergence
    return report


# -- the whole journal -----------------------------------------------------------------------------

Task = tuple[str, str, int, int]  # (kind, id, highest_seq, deleted_to)


def plan(j: journal.Journal, session_id: str | None = None) -> list[Task]:
    """What to check: every session and mob stream (or one session)."""
    if session_id is not None:
        stream = ev.session_stream(session_id)
        info = next((i for i in j.streams(stream) if i.stream_id == stream), None)
        return [("session", session_id, info.highest_seq, info.deleted_to)] if info else [("session", session_id, 0, 0)]
    tasks: list[Task] = []
    for kind, prefix in (("session", ev.SESSION_STREAM_PREFIX), ("mob", ev.MOB_STREAM_PREFIX)):
        for info in j.streams(prefix):
            tasks.append((kind, info.stream_id[len(prefix):], info.highest_seq, info.deleted_to))
    return tasks


def check_tasks(j: journal.Journal, tasks: Iterable[Task]) -> Iterator[StreamReport]:
    for kind, ident, highest, deleted_to in tasks:
        if kind == "session":
            yield verify_session(j, ident, highest, deleted_to)
        else:
            yield verify_mob(j, ident, highest, deleted_to)


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
    j: journal.Journal,
    session_id: str | None = None,
    *,
    storage: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> Report:
    """Check one session, or every session and mob and (``storage``) the journal's storage.

    ``jobs``: worker processes (None: as many as CPUs when the journal is large, else none).
    ``on_plan(total_events)`` is called once the work is known, then ``progress(n)`` as it is done.
    """
    tasks = plan(j, session_id)
    total = sum(t[2] - t[3] for t in tasks)
    if on_plan is not None:
        on_plan(total)
    report = Report()
    storage = storage and session_id is None  # the storage scan is of the whole journal
    if jobs is None:
        jobs = min(os.cpu_count() or 1, MAX_JOBS) if total >= PARALLEL_MIN_EVENTS else 1
    with _no_cyclic_gc():
        if jobs <= 1 or len(tasks) < 2:
            for r in check_tasks(j, tasks):
                report.streams.append(r)
                if progress:
                    progress(r.events)
            if storage:
                report.storage = j.verify()
        else:
            report.streams, report.storage = _verify_parallel(j.path, tasks, jobs, storage, progress)
    order = {t[1]: i for i, t in enumerate(tasks)}
    report.streams.sort(key=lambda r: order.get(r.id, 0))
    return report


# -- worker processes ------------------------------------------------------------------------------

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


def _pool_context() -> multiprocessing.context.BaseContext:
    # Not fork: the child would inherit this process's LMDB environment, which it must not use
    # and which py-lmdb then refuses to open again, and forking with threads running can
    # deadlock. A fork server is a fresh process that imports this module once and forks
    # workers from there: clean like spawn, cheap like fork after the first time.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _verify_parallel(
    path: str, tasks: list[Task], jobs: int, storage: bool, progress: Progress | None
) -> tuple[list[StreamReport], journal.VerifyReport | None]:
    streams: list[StreamReport] = []
    with cf.ProcessPoolExecutor(jobs, mp_context=_pool_context(), initializer=_worker_init, initargs=(path,)) as pool:
        # The storage scan is one long task: start it first so it overlaps with the replays.
        storage_future = pool.submit(_worker_storage) if storage else None
        futures = [pool.submit(_worker_check, chunk) for chunk in _chunks(tasks, jobs)]
        for future in cf.as_completed(futures):
            reports = future.result()
            streams.extend(reports)
            if progress:
                progress(sum(r.events for r in reports))
        return streams, storage_future.result() if storage_future else None
