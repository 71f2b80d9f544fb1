"""Small helpers shared by the benchmarks: temp dirs, thread load, medians and a results table.

The machine these run on is shared and noisy: always repeat, report the median with
[min - max], and compare ratios measured in the same run (see perf-baseline.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fewer and shorter runs (a smoke test, not a measurement)")
    p.add_argument("--runs", type=int, default=None, help="repetitions per measurement (default 5, --quick 2)")
    p.add_argument("--seconds", type=float, default=None, help="duration of each timed load (default 3, --quick 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args()
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.seconds is None:
        args.seconds = 1.0 if args.quick else 3.0
    return args


@contextlib.contextmanager
def tempdir(prefix: str) -> Iterator[str]:
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_threads(n: int, seconds: float, setup: Callable[[int], Callable[[], None]]) -> float:
    """Run ``n`` threads, each calling its ``op`` in a loop for ``seconds``; return ops/s."""
    ops, elapsed = run_threads_counted(n, seconds, setup)
    return ops / elapsed


def run_threads_counted(n: int, seconds: float, setup: Callable[[int], Callable[[], None]]) -> tuple[int, float]:
    """Like :func:`run_threads`, returning (ops completed, elapsed seconds).

    ``setup(i)`` runs on thread ``i`` before the clock starts and returns its ``op``. The time
    runs until the last thread's last call returns, so ops in flight at the deadline count fully.
    """
    counts = [0] * n
    errors: list[BaseException] = []
    ready = threading.Barrier(n + 1)
    stop = threading.Event()

    def worker(i: int) -> None:
        try:
            op = setup(i)
        except BaseException as e:  # still reach the barrier, or the main thread hangs
            errors.append(e)
            ready.wait()
            return
        ready.wait()
        done = 0
        try:
            while not stop.is_set():
                op()
                done += 1
        except BaseException as e:
            errors.append(e)
        counts[i] = done

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} of {n} threads failed; first: {errors[0]!r}") from errors[0]
    return sum(counts), elapsed


@dataclass
class Stat:
    values: list[float] = field(default_factory=list)

    def add(self, v: float) -> None:
        self.values.append(v)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def __str__(self) -> str:
        return f"{fmt(self.median)} [{fmt(min(self.values))}\u2013{fmt(max(self.values))}]"


def replay_journal(j: Any, expected: int) -> float:
    """Events/s of a full decoded ``read_all()`` of journal ``j``; checks it read ``expected`` events."""
    n = 0
    t0 = time.perf_counter()
    for _event in j.read_all():
        n += 1
    rate = n / (time.perf_counter() - t0)
    assert n == expected, (n, expected)
    return rate


def measure_appends(j: Any, threads: int, seconds: float, event: Callable[[int], Any]) -> tuple[float, float]:
    """``threads`` threads appending one event per call to journal ``j``; returns (events/s, events per commit).

    Checks that every acknowledged append is stored, so a fast but lossy journal cannot win.
    """
    def setup(i: int) -> Callable[[], None]:
        stream = f"session-{i}"
        counter = iter(range(10**12))
        return lambda: j.append(stream, [event(next(counter))])

    commits0 = j.commits
    appends, elapsed = run_threads_counted(threads, seconds, setup)
    events = sum(s.highest_seq for s in j.streams())
    assert events == appends, f"{appends} appends acknowledged but {events} events stored"
    return appends / elapsed, events / max(1, j.commits - commits0)


def fmt(v: float) -> str:
    if v >= 10_000:
        return f"{v / 1000:,.0f}k"
    if v >= 1000:
        return f"{v / 1000:.2f}k"
    return f"{v:.0f}"


@dataclass
class Row:
    name: str
    unit: str
    raw_label: str
    raw: Stat
    ours: Stat
    target: float

    @property
    def ratio(self) -> float:
        return self.ours.median / self.raw.median


def report(title: str, rows: list[Row], as_json: bool, notes: list[str] = ()) -> None:
    if as_json:
        print(json.dumps({
            "benchmark": title,
            "results": [
                {"name": r.name, "unit": r.unit, "raw_label": r.raw_label, "raw": r.raw.values, "ours": r.ours.values,
                 "raw_median": r.raw.median, "ours_median": r.ours.median, "ratio": r.ratio, "target": r.target,
                 "ok": r.ratio >= r.target}
                for r in rows
            ],
            "notes": list(notes),
        }))
        return
    header = ("benchmark", "raw", "raw: median [min\u2013max]", "ours: median [min\u2013max]", "ours/raw", "target")
    lines = [
        (r.name, r.raw_label, f"{r.raw} {r.unit}", f"{r.ours} {r.unit}", f"{r.ratio:.2f}x",
         f">= {r.target:g}x {'ok' if r.ratio >= r.target else 'MISSED'}")
        for r in rows
    ]
    print_table(title, header, lines, notes)


def print_table(title: str, header: tuple[str, ...], lines: list[tuple[str, ...]], notes: Iterable[str] = ()) -> None:
    """Print rows as aligned columns under a title, then the notes (one per line)."""
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    print(f"\n{title}")
    for line in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    for note in notes:
        print(note)
