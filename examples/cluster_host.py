"""A mob on a Ray cluster: kill the node that hosts it and watch the mob carry on.

Starts a Ray cluster on this machine (a head with no CPUs and two worker nodes), creates a mob on
a journal, runs a few turns, then kills the worker node hosting the mob the way a machine dies
(its Ray processes removed, the mob's host process killed with SIGKILL). Ray restarts the host
on the other node; it takes the journal's ownership, replays the mob, and the next turn is
answered there. A turn retried with the same request id is never applied twice.

    python examples/cluster_host.py                      # a journal directory in a temp dir
    python examples/cluster_host.py postgresql://...     # a shared PostgreSQL journal

Needs the ray extra (``pip install 'mob-actors[ray]'``; ``make`` installs it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from mob_actors import MobDefinition, MobError, Profile
from mob_actors.cluster import LocalCluster, RayMobCluster

MOB_ID = "cluster-demo"
DEFINITION = MobDefinition(MOB_ID, {"lead": Profile("lead", "You lead."), "helper": Profile("helper", "You help.")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal", nargs="?", help="a postgresql:// URL or a directory (default: a new temp dir)")
    args = parser.parse_args()
    journal_url = args.journal or os.path.join(tempfile.mkdtemp(prefix="mob-cluster-"), "journal")

    print("starting a Ray cluster on this machine: a head (no CPUs) and two worker nodes ...", flush=True)
    with LocalCluster(workers=2) as local:
        local.connect()
        with RayMobCluster(journal_url, "mob_actors.testing:EchoAgent") as cluster:
            try:
                mob = cluster.create_mob(DEFINITION)
                mob.spawn("lead", "lead")
                mob.spawn("helper", "helper")
            except MobError:  # a shared journal from an earlier run: the mob is already there
                mob = cluster.mob(MOB_ID)
            run = time.strftime("%H%M%S")
            for i in range(3):
                reply = mob.turn("lead", f"step {i}", request_id=f"{run}-step-{i}")
                print(f"  lead: {reply.text}")
            host = cluster.where(MOB_ID)
            print(f"mob {MOB_ID!r} runs on node {host.node_id[:12]} (pid {host.pid}); killing that node ...", flush=True)

            killed_at = time.monotonic()
            local.kill_node(host.node_id)
            reply = mob.turn("helper", "are you still there?", request_id=f"{run}-after-kill")
            took = time.monotonic() - killed_at
            new = cluster.where(MOB_ID)
            print(f"  helper: {reply.text}   ({took:.1f}s after the kill)")
            print(f"mob {MOB_ID!r} now runs on node {new.node_id[:12]} (pid {new.pid}, restarted by Ray: {new.restarted})")

            again = mob.turn("helper", "are you still there?", request_id=f"{run}-after-kill")
            assert again == reply  # the same request id: the stored result, not a second turn
            members = [m.member_id for m in mob.members()]
            print(f"members after the failover: {members}; status {mob.status().value}; the repeated request was not run again")
            print(f"the journal has every turn: {journal_url}")


if __name__ == "__main__":
    main()
