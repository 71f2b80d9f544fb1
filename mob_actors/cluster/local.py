"""A Ray cluster of several nodes on this one machine, for tests, examples and trying failover.

``LocalCluster`` starts a head with no CPUs (so no mob is placed on it) and worker nodes, all on
loopback with :mod:`.settings`' private settings, and can kill a node the way a machine dies:
its Ray processes are removed *and* every worker process it started is killed with SIGKILL
(``Cluster.remove_node`` alone leaves actor processes running, still holding their journal).
"""

from __future__ import annotations

import os
import shutil
import signal
from typing import Any

import ray
from ray.cluster_utils import Cluster

import mob_actors

from .settings import LOOPBACK, apply_private_env, head_node_args, short_temp_dir, worker_node_args

NAMESPACE = "mob-actors"


class LocalCluster:
    """A head (0 CPUs) and ``workers`` worker nodes on this machine; ``connect`` joins it.
    ``LocalCluster(workers=0, head_cpus=1)`` is the quickest start: one node that hosts mobs itself.

    Worker processes import the same ``mob_actors`` as this process: its directory is put first
    on ``PYTHONPATH`` before any node starts. Call :meth:`shutdown` (or use ``with``) at the end.
    """

    def __init__(self, workers: int = 2, *, worker_cpus: float = 2, head_cpus: float = 0, fast_failover: bool = True) -> None:
        self.temp_dir = short_temp_dir()
        apply_private_env(self.temp_dir)
        root = os.path.dirname(os.path.dirname(os.path.abspath(mob_actors.__file__)))
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *(p for p in paths if p != root)])
        self.worker_cpus = worker_cpus
        self.cluster = Cluster(initialize_head=True, head_node_args=head_node_args(self.temp_dir, num_cpus=head_cpus, fast_failover=fast_failover))
        self.nodes: list[Any] = []
        try:
            for _ in range(workers):
                self.add_node(wait=False)
            self.cluster.wait_for_nodes()
        except BaseException:
            self.shutdown()
            raise

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def connect(self, namespace: str = NAMESPACE) -> None:
        """``ray.init`` this process into the cluster (as a driver, on the head node)."""
        # _node_ip_address: else Ray rewrites a loopback address into the machine's own IP.
        ray.init(address=self.address, namespace=namespace, log_to_driver=False, _node_ip_address=LOOPBACK)

    def add_node(self, *, wait: bool = True) -> Any:
        """Start one more worker node; returns Ray's node object (``.node_id`` is its Ray node id)."""
        node = self.cluster.add_node(wait=wait, **worker_node_args(num_cpus=self.worker_cpus))
        self.nodes.append(node)
        return node

    def node(self, node_id: str) -> Any:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(f"no live worker node {node_id} (nodes: {[n.node_id for n in self.nodes]})")

    def kill_node(self, node_id: str) -> list[int]:
        """Kill a worker node like a machine dying: remove it, SIGKILL every process it started.

        Returns the pids killed with SIGKILL (the node's worker processes, actors among them).
        """
        node = self.node(node_id)
        raylet = node.all_processes[ray._private.ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
        workers = _descendants(raylet)
        self.cluster.remove_node(node, allow_graceful=False)
        self.nodes.remove(node)
        killed = []
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        return killed

    def shutdown(self) -> None:
        """Disconnect this process and stop every node; remove the temp directory."""
        if ray.is_initialized():
            ray.shutdown()
        self.cluster.shutdown()  # type: ignore[no-untyped-call]
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (read from /proc: Ray's workers are the raylet's children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in (...) may contain spaces
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
