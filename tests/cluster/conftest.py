"""Fixtures for the Ray cluster suite: one local Ray cluster (a head with no CPUs and two worker
nodes on this machine, private settings, fast health checks) shared by the whole run, because
starting one takes several seconds. Tests that kill a node add a fresh one back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]'; make test does)")

from mob_actors.cluster import LocalCluster  # noqa: E402


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=2) as cluster:
        cluster.connect()
        yield cluster


@pytest.fixture
def two_nodes(local_cluster: LocalCluster) -> LocalCluster:
    """The shared cluster with (again) two live worker nodes."""
    while len(local_cluster.nodes) < 2:
        local_cluster.add_node()
    return local_cluster
