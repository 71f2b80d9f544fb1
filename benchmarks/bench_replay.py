"""``mob-replay verify`` against a raw read of the same journal's LMDB data.

    .venv/bin/python benchmarks/bench_replay.py [--quick] [--runs N] [--json] [--journal DIR] [--sessions N]

The journal: 1,000 sessions of exactly 100 events each, written by the real
``PersistentSessionService`` (durability="nosync", one EchoAgent turn per event, and an explicit
checkpoint, i.e. snapshot + ``checkpointed`` event, as events 50 and 100). ``--journal DIR``
keeps it in DIR and reuses it on the next run (building takes a while: every event goes through
a session actor and a journal commit).

Measured, interleaved, ``--runs`` times (default 3), medians compared:

* raw: py-lmdb cursor over the journal's ``events`` database + ``msgpack.unpackb`` per value
  (nothing checked; the floor any reader pays). Opening the journal's LMDB environment directly
  is fine here: the benchmark is not the tool.
* ``verify``: what ``mob-replay verify PATH`` runs (``mob_actors.replay.verify.verify``): every
  session replayed from scratch through ``evolve`` with every digest, receipt and snapshot
  checked, the replay from the newest snapshot, the mob and seq checks and the journal-wide
  position check, on worker processes. Target: >= 0.5x raw events/s.

Also shown, for information: ``--storage`` (adds ``journal.verify()``, a second full decode) and
one process (``--jobs 1``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

import lmdb
import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import Row, Stat, report, tempdir

import journal
from mob_actors import CreateSessionRequest, PersistentSessionService, StartTurnRequest
from mob_actors.replay.verify import verify
from mob_actors.testing import EchoAgent

EVENTS_PER_SESSION = 100
CHECKPOINTS_AT = (50, 100)  # seqs of the checkpointed events (their snapshots are at 49 and 99)
TARGET = 0.5


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="100 sessions, 1 run (a smoke test, not a measurement)")
    p.add_argument("--runs", type=int, default=None, help="repetitions (default 3, --quick 1)")
    p.add_argument("--seconds", type=float, default=None, help="accepted for run_all.py; unused")
    p.add_argument("--sessions", type=int, default=None, help="sessions in the journal (default 1000, --quick 100)")
    p.add_argument("--journal", default=None, help="build the journal here (kept, and reused when it is there)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.sessions = args.sessions or (100 if args.quick else 1000)
    return args


# -- the journal ----------------------------------------------------------------------------------


def build(path: str, sessions: int) -> float:
    """Write ``sessions`` x 100 events through the service; return the seconds it took."""
    t0 = time.perf_counter()
    with journal.open(path, durability="nosync", map_size=1 << 30) as j:
        # no automatic checkpoints (None) + explicit ones: exactly 100 events per session, no timing luck.
        # max_resident: finished sessions' actors are stopped (not discarded: that would be an event).
        service = PersistentSessionService(j, EchoAgent(), checkpoint_every=None, max_resident=8)
        try:
            for i in range(sessions):
                sid = service.create_session(CreateSessionRequest(
                    system_prompt="You are a helpful assistant.", metadata={"n": i},
                )).id
                for seq in range(2, EVENTS_PER_SESSION + 1):
                    if seq in CHECKPOINTS_AT:
                        service.checkpoint(sid)
                    else:
                        service.start_turn(sid, StartTurnRequest(f"question {seq} about topic {i}"))
        finally:
            service.shutdown()
    return time.perf_counter() - t0


def journal_is_complete(path: str, sessions: int) -> bool:
    if not os.path.exists(os.path.join(path, "data.mdb")):
        return False
    with journal.open(path, readonly=True) as j:
        infos = list(j.streams("session:"))
        return len(infos) == sessions and all(i.highest_seq == EVENTS_PER_SESSION for i in infos)


# -- the two readers ------------------------------------------------------------------------------


def raw_read(path: str) -> tuple[float, int]:
    """events/s of a cursor loop with unpackb over the journal's events database."""
    env = lmdb.open(path, readonly=True, max_dbs=8, lock=False, subdir=True)
    try:
        events = env.open_db(b"events", create=False)
        unpackb = msgpack.unpackb
        n = 0
        t0 = time.perf_counter()
        with env.begin(db=events) as txn:
            for _key, value in txn.cursor():
                unpackb(value, raw=False, strict_map_key=False)
                n += 1
        return n / (time.perf_counter() - t0), n
    finally:
        env.close()  # verify forks workers next; they must not inherit an open environment


def run_verify(path: str, **kwargs: object) -> float:
    t0 = time.perf_counter()
    result = verify(path, **kwargs)
    elapsed = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"verify found problems in a journal the service just wrote: {result.to_json()['bad']} bad streams")
    return result.events_checked / elapsed


def main() -> None:
    args = parse_args()
    notes: list[str] = []
    with tempdir("bench-replay-") as tmp:
        path = args.journal or os.path.join(tmp, "journal")
        if journal_is_complete(path, args.sessions):
            notes.append(f"journal reused from {path}")
        else:
            if os.path.exists(path):
                raise SystemExit(f"{path} exists but is not a complete benchmark journal of {args.sessions} sessions; remove it")
            seconds = build(path, args.sessions)
            notes.append(f"built {args.sessions} sessions x {EVENTS_PER_SESSION} events with PersistentSessionService "
                         f"(nosync) in {seconds:.1f} s")
        if threading.active_count() > 1:
            notes.append(f"warning: {threading.active_count()} threads running; verify will not fork workers")

        raw, default, full, one_process = Stat(), Stat(), Stat(), Stat()
        for _ in range(args.runs):
            rate, count = raw_read(path)
            raw.add(rate)
            default.add(run_verify(path))
            full.add(run_verify(path, storage=True))
            one_process.add(run_verify(path, jobs=1))
        notes.append(f"{count:,} events; {os.cpu_count()} CPUs; medians of {args.runs} interleaved runs")
        label = "lmdb cursor+unpackb"
        rows = [
            Row("verify", "ev/s", label, raw, default, TARGET),
            Row("verify --storage (+ journal.verify())", "ev/s", label, raw, full, TARGET),
            Row("verify --jobs 1 (one process)", "ev/s", label, raw, one_process, TARGET),
        ]
        ratio = statistics.median(default.values) / statistics.median(raw.values)
        notes.append(f"verify/raw ratio: {ratio:.2f} (target >= {TARGET})")
        report("mob-replay verify vs a raw read of the same data.mdb", rows, args.json, notes)


if __name__ == "__main__":
    main()
