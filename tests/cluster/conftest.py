"""Fixtures for the Ray cluster suite: one local Ray cluster (a head with no CPUs and two worker
nodes on this machine, private settings, fast health checks), started by the first test that
needs it and shared by the next ones, because starting one takes several seconds.

It is shut down as soon as the last test of this directory has run: a process connected to Ray
must not fork (the replay tool's worker processes would inherit Ray's threads and sockets).
Tests that kill a node get a fresh one added back by ``two_nodes``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]'; make test does)")

from mob_actors.cluster import LocalCluster  # noqa: E402

HERE = Path(__file__).parent
_shared: list[LocalCluster] = []


def _stop_shared() -> None:
    while _shared:
        _shared.pop().shutdown()


@pytest.fixture
def local_cluster() -> LocalCluster:
    if not _shared:
        cluster = LocalCluster(workers=2)
        _shared.append(cluster)
        cluster.connect()
    return _shared[0]


@pytest.fixture
def two_nodes(local_cluster: LocalCluster) -> LocalCluster:
    """The shared cluster with (again) two live worker nodes."""
    while len(local_cluster.nodes) < 2:
        local_cluster.add_node()
    return local_cluster


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or HERE not in Path(str(nextitem.path)).parents:
        _stop_shared()
