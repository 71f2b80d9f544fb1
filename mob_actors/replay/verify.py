"""``verify``: plan the checks of a journal and run them, here or in forked worker processes.

What is checked is in :mod:`mob_actors.replay.checks`. Here: :func:`plan` lists the streams with
their bounds as of now, :func:`verify` runs the checks and the journal-wide position check and
gathers one :class:`~mob_actors.replay.report.Report`. ``storage=True`` (``--storage``) adds
``journal.verify()``, the journal's own full scan, which also reads the index on its own; it
costs another decode of every record, so it is not the default.

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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import journal

from ..core import events as ev
from .checks import check_positions, verify_session, verify_stream
from .report import Report, StreamReport
from .source import open_journal

__all__ = ["Report", "Task", "plan", "verify"]

log = logging.getLogger(__name__)

# Below this many events one process is quicker than starting workers.
PARALLEL_MIN_EVENTS = 5_000
MAX_JOBS = 8

# -- the whole journal -----------------------------------------------------------------------------

Task = tuple[str, str, int, int]  # (kind, stream id, highest_seq, deleted_to)


def plan(j: journal.EventJournal, session_id: str | None = None) -> list[Task]:
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


def check_tasks(j: journal.EventJournal, tasks: Iterable[Task]) -> Iterator[StreamReport]:
    for kind, stream_id, highest, deleted_to in tasks:
        if kind == "session":
            yield verify_session(j, stream_id[len(ev.SESSION_STREAM_PREFIX):], highest, deleted_to)
        else:
            yield verify_stream(j, stream_id, kind, highest, deleted_to)


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

_worker_journal: journal.EventJournal | None = None


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
