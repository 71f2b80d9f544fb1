"""Write-path and replay performance of the ``journal`` package, each against its raw baseline.

    .venv/bin/python benchmarks/bench_journal.py [--quick] [--runs N] [--seconds S] [--json]

1. durable append: 64 threads, one ~200 B event per ``append`` call, ``durability="sync"``,
   vs raw py-lmdb doing one synced write transaction per event (one thread: LMDB serializes
   writers anyway). Target ours/raw >= 8x.
2. replay: ``read_all()`` of 100k events, decoded, vs a raw cursor loop with ``msgpack.unpackb``
   per value over a database of the same size. Target >= 0.6x.
3. the load of 1 against ``eventsourcing`` on an SQLite file (WAL, synchronous FULL), one event
   per save, each thread saving its own aggregate. Target >= 5x.
4.-6. the PostgreSQL journal on a throwaway local server: durable append vs raw psycopg (>= 5x),
   read_all vs a raw server-side cursor (>= 0.5x), two processes appending at once
   (see _pg_journal.py). ``--no-pg`` leaves them out.

The durable loads run interleaved (raw, ours, eventsourcing, raw, ...) so that drift in the
machine's load hits all three alike. Every figure is the median of ``--runs`` runs.
"""

from __future__ import annotations

import gc
import os
import sys
import time

import lmdb
import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import Row, Stat, measure_appends, parse_args, replay_journal, report, run_threads, tempdir

import journal

THREADS = 64
SESSIONS = 100  # raw baselines write round-robin over this many session keys, as in perf-baseline.md
REPLAY_EVENTS = 100_000
TEXT = "x" * 110


def raw_event(n: int) -> dict:
    """The reference event of perf-baseline.md: 200 B of msgpack."""
    return {"session_id": (n % SESSIONS).to_bytes(16, "big"), "seq": n, "kind": "turn",
            "payload": {"role": "assistant", "text": TEXT, "ts": 1.7e9 + n, "n": n}}


def journal_event(n: int) -> journal.Event:
    """The same content as a journal event; the stored record (stream id, seq, type, data,
    metadata, tags, version, timestamp) is about as big as the raw one."""
    return journal.Event("turn", {"session_id": (n % SESSIONS).to_bytes(16, "big"),
                                  "payload": {"role": "assistant", "text": TEXT, "ts": 1.7e9 + n, "n": n}})


def raw_key(n: int) -> bytes:
    return (n % SESSIONS).to_bytes(16, "big") + n.to_bytes(8, "big")


# -- 1: durable appends ---------------------------------------------------------------------


def raw_lmdb_synced(seconds: float) -> float:
    """One synced write transaction per event, as fast as one thread can go."""
    with tempdir("bench-raw-lmdb-") as path:
        env = lmdb.open(path, map_size=1 << 30)  # sync=True is the default
        try:
            n = 0
            t0 = time.perf_counter()
            deadline = t0 + seconds
            while time.perf_counter() < deadline:
                with env.begin(write=True) as txn:
                    txn.put(raw_key(n), msgpack.packb(raw_event(n)))
                n += 1
            return n / (time.perf_counter() - t0)
        finally:
            env.close()


def journal_appends(seconds: float) -> tuple[float, float]:
    """64 threads appending one event per call; returns (events/s, events per commit)."""
    with tempdir("bench-journal-") as path, journal.open(path, durability="sync") as j:
        return measure_appends(j, THREADS, seconds, journal_event)


# -- 3: eventsourcing on SQLite ---------------------------------------------------------------


def _session_class() -> type:
    """An aggregate with one event method (built once: eventsourcing registers classes by topic)."""
    global _Session
    if _Session is None:
        from eventsourcing.domain import Aggregate, event

        class Session(Aggregate):
            @event("Turned")
            def turn(self, role: str, text: str, ts: float, n: int) -> None:
                pass

        _Session = Session
    return _Session


_Session = None


def eventsourcing_appends(seconds: float) -> float:
    from eventsourcing.application import Application

    Session = _session_class()
    with tempdir("bench-es-sqlite-") as path:
        # The library sets WAL itself; synchronous stays SQLite's default FULL (fsync per commit).
        app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                               "SQLITE_DBNAME": os.path.join(path, "es.sqlite3")})
        try:
            def setup(i: int):
                agg = Session()
                app.save(agg)  # the creation event is saved before the clock starts
                counter = iter(range(10**12))

                def op() -> None:
                    n = next(counter)
                    agg.turn("assistant", TEXT, 1.7e9 + n, n)
                    app.save(agg)

                return op

            return run_threads(THREADS, seconds, setup)
        finally:
            app.close()


# -- 2: replay --------------------------------------------------------------------------------


def build_raw(path: str, count: int) -> lmdb.Environment:
    env = lmdb.open(path, map_size=1 << 30, sync=False)
    for start in range(0, count, 10_000):
        with env.begin(write=True) as txn:
            for n in range(start, min(count, start + 10_000)):
                txn.put(raw_key(n), msgpack.packb(raw_event(n)))
    return env


def replay_raw(env: lmdb.Environment) -> float:
    unpackb = msgpack.unpackb
    n = 0
    t0 = time.perf_counter()
    with env.begin() as txn:
        for _key, value in txn.cursor():
            unpackb(value)
            n += 1
    return n / (time.perf_counter() - t0)


def build_journal(path: str, count: int) -> None:
    with journal.open(path, durability="nosync") as j:
        for start in range(0, count, 1000):
            j.append_batch(journal.AtomicWrite(f"session-{n % SESSIONS}", [journal_event(n)])
                           for n in range(start, min(count, start + 1000)))


def main() -> None:
    no_pg = "--no-pg" in sys.argv
    if no_pg:
        sys.argv.remove("--no-pg")
    args = parse_args(__doc__.splitlines()[0])
    replay_events = 20_000 if args.quick else REPLAY_EVENTS
    load_before = os.getloadavg()[0]
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))

    raw, ours, es, per_commit = Stat(), Stat(), Stat(), Stat()
    for run in range(args.runs):
        raw.add(raw_lmdb_synced(args.seconds))
        rate, batch = journal_appends(args.seconds)
        ours.add(rate)
        per_commit.add(batch)
        es.add(eventsourcing_appends(args.seconds))
        log(f"  durable run {run + 1}/{args.runs}: raw lmdb {raw.values[-1]:,.0f}  journal {rate:,.0f} "
            f"({batch:.0f} ev/commit)  eventsourcing {es.values[-1]:,.0f} ev/s")

    gc.collect()  # start the replays from a clean heap (the loads above leave garbage behind)
    replay_r, replay_o = Stat(), Stat()
    with tempdir("bench-replay-raw-") as raw_path, tempdir("bench-replay-journal-") as j_path:
        env = build_raw(raw_path, replay_events)
        build_journal(j_path, replay_events)
        with journal.open(j_path, readonly=True) as j:
            for run in range(args.runs):
                replay_r.add(replay_raw(env))
                replay_o.add(replay_journal(j, replay_events))
                log(f"  replay run {run + 1}/{args.runs}: raw {replay_r.values[-1]:,.0f}  journal {replay_o.values[-1]:,.0f} ev/s")
        env.close()

    pg_rows, pg_notes = ([], []) if no_pg else postgres_rows(args, replay_events, log)
    rows = [
        Row(f"1 durable append, {THREADS} threads x 1 ev/call", "ev/s", "lmdb, 1 thread, 1 synced txn/ev", raw, ours, 8),
        Row(f"2 replay read_all() {replay_events // 1000}k ev, decoded", "ev/s", "lmdb cursor+unpackb", replay_r, replay_o, 0.6),
        Row(f"3 durable append, {THREADS} threads x 1 ev/save", "ev/s", "eventsourcing+SQLite", es, ours, 5),
        *pg_rows,
    ]
    notes = [f"journal events per commit (group commit) under load 1: median {per_commit.median:.0f} "
             f"[{min(per_commit.values):.0f}\u2013{max(per_commit.values):.0f}]; "
             f"{args.runs} runs x {args.seconds:g} s; loadavg {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end", *pg_notes]
    report("journal: write path and replay (ratio = ours / raw medians)", rows, args.json, notes)


def postgres_rows(args, replay_events: int, log) -> tuple[list[Row], list[str]]:
    """Loads 4-6 on a throwaway PostgreSQL server, interleaved like the LMDB ones."""
    from _pg_journal import PgBench

    bench = PgBench()
    try:
        raw, ours, per_commit = Stat(), Stat(), Stat()
        for run in range(args.runs):
            raw.add(bench.raw_inserts(args.seconds, raw_event, raw_key))
            rate, batch = bench.journal_appends(THREADS, args.seconds, journal_event)
            ours.add(rate)
            per_commit.add(batch)
            log(f"  pg durable run {run + 1}/{args.runs}: raw psycopg {raw.values[-1]:,.0f}  journal {rate:,.0f} ({batch:.0f} ev/commit) ev/s")
        gc.collect()
        url = bench.build_replay(replay_events, SESSIONS, journal_event)
        replay_r, replay_o = Stat(), Stat()
        with journal.open(url, readonly=True) as j:
            for run in range(args.runs):
                replay_r.add(bench.replay_raw(url, replay_events))
                replay_o.add(replay_journal(j, replay_events))
                log(f"  pg replay run {run + 1}/{args.runs}: raw {replay_r.values[-1]:,.0f}  journal {replay_o.values[-1]:,.0f} ev/s")
        two, two_batch, continuity = Stat(), Stat(), []
        for run in range(max(1, args.runs // 2)):
            rate, batch, ok = bench.two_processes(args.seconds)
            two.add(rate)
            two_batch.add(batch)
            continuity.append(ok)
            log(f"  pg two processes run {run + 1}: {rate:,.0f} ev/s total ({batch:.0f} ev/commit), positions {ok}")
    finally:
        bench.close()
    rows = [
        Row(f"4 pg durable append, {THREADS} threads x 1 ev/call", "ev/s", "psycopg, 1 thread, 1 committed INSERT/ev", raw, ours, 5),
        Row(f"5 pg replay read_all() {replay_events // 1000}k ev, decoded", "ev/s", "server-side cursor+unpackb", replay_r, replay_o, 0.5),
    ]
    notes = [f"pg: journal events per commit under load 4: median {per_commit.median:.0f}; "
             f"6 two processes x 32 threads appending at once: {two} ev/s total, {two_batch.median:.0f} ev/commit, "
             f"positions' continuity: {', '.join(continuity)}"]
    return rows, notes


if __name__ == "__main__":
    main()
