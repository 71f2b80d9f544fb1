"""A node dies under a mob that is serving turns: the mob serves again from another node within
10 s, every acknowledged turn is in the journal exactly once, no gaps (journal directory: both
nodes are on this machine, and the old host's writer lock keeps the new one out until it is dead)."""

from __future__ import annotations

from pathlib import Path

import pytest
from failover_helpers import check_journal, run_failover

import journal
from mob_actors.cluster import LocalCluster, RayMobCluster

pytestmark = pytest.mark.ray

FAILOVER_LIMIT_S = 10.0


def test_mob_fails_over_to_another_node_lmdb(two_nodes: LocalCluster, tmp_path: Path) -> None:
    path = tmp_path / "j"
    with RayMobCluster(path, "mob_actors.testing:EchoAgent", failover_timeout_s=30) as cluster:
        run = run_failover(two_nodes, cluster, "crew")
    print(f"failover: first turn on the new host {run.failover_s:.2f}s after the kill; host open {run.after.open_s:.2f}s")
    assert run.after.node_id != run.before.node_id and run.after.restarted
    assert run.failover_s < FAILOVER_LIMIT_S
    with journal.open(path, readonly=True) as j:
        check_journal(j, run)


def test_mob_fails_over_to_another_node_postgresql(two_nodes: LocalCluster, pg_url: str) -> None:
    """The same on a PostgreSQL journal: the new host waits for the advisory lock that the old
    host's writer connection held (released when its process was killed), then replays."""
    with RayMobCluster(pg_url, "mob_actors.testing:EchoAgent", failover_timeout_s=30) as cluster:
        run = run_failover(two_nodes, cluster, "crew")
    print(f"failover (PostgreSQL): first turn on the new host {run.failover_s:.2f}s after the kill; host open {run.after.open_s:.2f}s")
    assert run.after.node_id != run.before.node_id and run.after.restarted
    assert run.failover_s < FAILOVER_LIMIT_S
    with journal.open(pg_url, readonly=True) as j:
        check_journal(j, run)
