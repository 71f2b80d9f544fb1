"""The PostgreSQL journal's loads for bench_journal.py, each against raw psycopg on the same server.

A throwaway server (tests/pgserver.py: initdb in a temp dir, fsync and synchronous_commit on) is
started for the run and stopped after it.

4. durable append, 64 threads x 1 event per call, vs raw psycopg: one thread, one committed
   INSERT per event (what an application without group commit does). Target >= 5x.
5. read_all() of the replay log, decoded, vs a raw server-side cursor over the same table with
   msgpack.unpackb per record. Target >= 0.5x.
6. two processes appending at once (32 threads each): the total rate, and the positions'
   continuity checked afterwards (gap-free 1..head, seqs gap-free per stream).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import msgpack
import psycopg

import journal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from _util import measure_appends  # noqa: E402
from pgserver import PgServer  # noqa: E402

TWO_PROCESS_CHILD = """
import sys, threading, time
sys.path.insert(0, sys.argv[4])
import journal
from _util import run_threads_counted
from bench_journal import journal_event
url, seconds, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
with journal.open(url) as j:
    def setup(i):
        stream, counter = f"{name}-{i}", iter(range(10**12))
        return lambda: j.append(stream, [journal_event(next(counter))])
    print("ready", flush=True)
    sys.stdin.readline()
    n, elapsed = run_threads_counted(32, seconds, setup)
    print(n, elapsed, j.commits, flush=True)
"""


class PgBench:
    """One server for the PostgreSQL loads; a fresh database per measurement."""

    def __init__(self) -> None:
        self.server = PgServer()
        self.server.start()

    def close(self) -> None:
        self.server.close()

    def raw_inserts(self, seconds: float, raw_event: Callable[[int], dict], raw_key: Callable[[int], bytes]) -> float:
        """One thread, one committed (synchronous_commit=on) INSERT per event."""
        url = self.server.new_database()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE raw_events (key bytea PRIMARY KEY, value bytea NOT NULL)")
            n = 0
            t0 = time.perf_counter()
            deadline = t0 + seconds
            while time.perf_counter() < deadline:
                conn.execute("INSERT INTO raw_events (key, value) VALUES (%b, %b)", (raw_key(n), msgpack.packb(raw_event(n))))
                n += 1
            return n / (time.perf_counter() - t0)

    def journal_appends(self, threads: int, seconds: float, event: Callable[[int], journal.Event]) -> tuple[float, float]:
        """``threads`` threads appending one event per call; returns (events/s, events per commit)."""
        with journal.open(self.server.new_database(), durability="sync") as j:
            return measure_appends(j, threads, seconds, event)

    def build_replay(self, count: int, sessions: int, event: Callable[[int], journal.Event]) -> str:
        url = self.server.new_database()
        with journal.open(url, durability="nosync") as j:
            for start in range(0, count, 1000):
                j.append_batch(journal.AtomicWrite(f"session-{n % sessions}", [event(n)]) for n in range(start, min(count, start + 1000)))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE journal_events")  # both readers start from the same settled table
        return url

    @staticmethod
    def replay_raw(url: str, expected: int) -> float:
        unpackb = msgpack.unpackb
        n = 0
        with psycopg.connect(url) as conn:
            t0 = time.perf_counter()
            with conn.cursor("raw-replay", binary=True) as cur:
                cur.itersize = 5000
                cur.execute("SELECT position, record FROM journal_events ORDER BY position")
                for _pos, record in cur:
                    unpackb(record)
                    n += 1
            rate = n / (time.perf_counter() - t0)
        assert n == expected, (n, expected)
        return rate

    def two_processes(self, seconds: float) -> tuple[float, float, str]:
        """Two processes x 32 threads appending at once; returns (total ev/s, events per commit, continuity)."""
        url = self.server.new_database()
        journal.open(url).close()  # the tables exist before both start
        env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        procs = [subprocess.Popen([sys.executable, "-c", TWO_PROCESS_CHILD, url, str(seconds), name, HERE],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) for name in ("a", "b")]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=seconds + 120)[0].split() for p in procs]
        assert all(p.returncode == 0 for p in procs)
        total = sum(int(o[0]) for o in outs)
        elapsed = max(float(o[1]) for o in outs)
        commits = sum(int(o[2]) for o in outs)
        with journal.open(url, readonly=True) as r:
            positions = [e.position for e in r.read_all()]
            head = r.head()
            gap_free = positions == list(range(1, head + 1))
            seqs_ok = all([e.seq for e in r.read(s.stream_id)] == list(range(1, s.highest_seq + 1)) for s in r.streams())
            acked_all = head == total
        continuity = "ok" if gap_free and seqs_ok and acked_all else f"BROKEN (gap-free {gap_free}, seqs {seqs_ok}, head {head} vs acked {total})"
        return total / elapsed, total / max(1, commits), continuity
