"""A turn through a ``RayMobCluster`` handle against a local ``MobHandle``, on the same journal.

    .venv/bin/python benchmarks/bench_cluster.py [--quick] [--runs N] [--seconds S] [--json] [--journal URL]

The same mob (one member per client thread, ``EchoAgent``) on the same journal (a new directory,
or ``--journal postgresql://...``), measured two ways in one run:

* local: ``MobRuntime.open(journal)`` in this process, ``mob.turn(member, prompt, request_id=...)``;
* cluster: a Ray cluster on this machine (a head and one worker node), the mob hosted by a
  ``RayMobCluster`` actor on the worker, the same call through its handle (a Ray call each way,
  plus the host's ``Reply``).

Two loads: one client taking turns back to back (the round trip, median of per-turn times), and
8 client threads (turns/s). Only one writer may own the journal, so the local rounds run first,
the runtime is closed, then the cluster's host takes the journal over. The ratio is cluster /
local (the price of the extra process hop); there is no target.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _util import Stat, fmt, print_table, run_threads_counted, tempdir

from mob_actors import MobDefinition, MobRuntime, Profile, new_id
from mob_actors.testing import EchoAgent

CLIENTS = 8
MOB_ID = "bench"
PROMPT = "Summarise the design notes in two sentences, please."


def _members(mob: Any) -> None:
    for i in range(CLIENTS):
        mob.spawn(f"m{i}", "worker")


def _turn(mob: Any, i: int) -> Callable[[], Any]:
    return lambda: mob.turn(f"m{i}", PROMPT, request_id=new_id())


def _round_trip_us(op: Callable[[], Any], calls: int) -> float:
    """Median microseconds of ``calls`` back-to-back calls."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        op()
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def _per_s(setup: Callable[[int], Callable[[], Any]], seconds: float) -> float:
    ops, elapsed = run_threads_counted(CLIENTS, seconds, setup)
    return ops / elapsed


def measure(journal_url: str, runs: int, seconds: float, turns: int) -> list[tuple[str, Stat, Stat, Stat]]:
    """(load, local, cluster, Ray's floor: an empty call to the host actor) for each load."""
    local_rt, local_tp, ray_rt, ray_tp, floor_rt, floor_tp = (Stat() for _ in range(6))
    definition = MobDefinition(MOB_ID, {"worker": Profile("worker")})
    with MobRuntime.open(journal_url, EchoAgent()) as runtime:
        mob = runtime.create_mob(definition)
        for i in range(CLIENTS):
            mob.spawn(f"m{i}", "worker")
        mob.turn("m0", "warm up", request_id=new_id())
        for _ in range(runs):
            local_rt.add(_round_trip_us(_turn(mob, 0), turns))
            local_tp.add(_per_s(lambda i: _turn(mob, i), seconds))

    import ray

    from mob_actors.cluster import LocalCluster, RayMobCluster

    with LocalCluster(workers=1) as local:
        local.connect()
        with RayMobCluster(journal_url, "mob_actors.testing:EchoAgent") as cluster:
            handle = cluster.mob(MOB_ID)  # the host resumes the mob the local runtime created
            handle.turn("m0", "warm up", request_id=new_id())
            host = cluster._host_for(MOB_ID)

            def empty_call() -> Any:
                return ray.get(host.where.remote())

            for _ in range(runs):
                ray_rt.add(_round_trip_us(_turn(handle, 0), turns))
                ray_tp.add(_per_s(lambda i: _turn(handle, i), seconds))
                floor_rt.add(_round_trip_us(empty_call, turns))
                floor_tp.add(_per_s(lambda i: empty_call, seconds))
    return [
        ("round trip, 1 client (us)", local_rt, ray_rt, floor_rt),
        (f"turns/s, {CLIENTS} clients", local_tp, ray_tp, floor_tp),
    ]


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--journal", default=None, help="a postgresql:// URL (default: a new journal directory)")
    args = p.parse_args()
    runs = args.runs or (2 if args.quick else 5)
    seconds = args.seconds or (1.0 if args.quick else 3.0)
    turns = 50 if args.quick else 200
    with tempdir("bench-cluster-") as d:
        results = measure(args.journal or os.path.join(d, "journal"), runs, seconds, turns)
    if args.json:
        import json

        print(json.dumps({"benchmark": "cluster", "results": [
            {"load": name, "local": a.values, "cluster": b.values, "ray_empty_call": c.values} for name, a, b, c in results
        ]}))
        return
    lines = [(name, str(a), str(b), str(c), f"{b.median / a.median:.2f}x") for name, a, b, c in results]
    print_table(
        f"RayMobCluster handle vs local MobHandle, same journal ({'PostgreSQL' if args.journal else 'LMDB directory'})",
        ("load", "local MobHandle: median [min\u2013max]", "RayMobCluster handle", "Ray floor: empty actor call", "cluster/local"),
        lines,
        [f"{runs} runs; round trip = median of {turns} back-to-back calls; {fmt(seconds)} s per throughput run"],
    )


if __name__ == "__main__":
    main()
