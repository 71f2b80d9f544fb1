"""Ray settings for a private cluster of mob hosts: no usage reporting, our own temp directory,
loopback addresses, and health checks fast enough that a dead node's mobs restart in seconds.

Ray reads some of these from the environment of every process it starts, so
:func:`apply_private_env` must run before ``ray.init`` or before a node is started; the rest are
arguments of the head node (:func:`head_node_args`) or of ``ray.init`` (:func:`init_args`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

# Set in the environment before Ray starts (every Ray process inherits it).
PRIVATE_ENV: dict[str, str] = {
    # No usage statistics sent to the Ray project, and no prompt asking about it.
    "RAY_USAGE_STATS_ENABLED": "0",
    # Every node of a private cluster on one machine uses the loopback address: with the default
    # ("1" on Linux) Ray rewrites 127.0.0.1 into the machine's own interface address, which a
    # sandboxed or firewalled machine may not reach. Not for a real multi-machine cluster.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}

# How the head notices a dead node. Ray's defaults take ~15 s before a dead node's actors restart
# elsewhere; these take ~3.5 s (a check every 0.5 s, three missed in a row = dead).
FAST_HEALTH_CHECKS: dict[str, Any] = {
    "health_check_initial_delay_ms": 500,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 500,
    "health_check_failure_threshold": 3,
}

LOOPBACK = "127.0.0.1"


def apply_private_env(temp_root: str) -> None:
    """Put :data:`PRIVATE_ENV` into ``os.environ`` with ``RAY_TMPDIR=temp_root`` (call it before
    Ray starts anything: some Ray code writes under ``$RAY_TMPDIR/ray`` whatever ``temp_dir`` says)."""
    os.environ.update(PRIVATE_ENV)
    os.environ["RAY_TMPDIR"] = temp_root
    if "ray" in sys.modules:
        # Ray reads this one when it is imported; this process may have imported it already.
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def short_temp_dir(prefix: str = "mobray-") -> str:
    """A new, short temporary root directory for Ray (its sockets and logs go in ``<root>/ray``).

    Ray puts Unix sockets under its temp dir and a socket path must stay under ~107 bytes, so
    the directory lives directly under /tmp rather than under a long pytest or user path.
    """
    root = tempfile.mkdtemp(prefix=prefix, dir="/tmp" if os.path.isdir("/tmp") else None)
    os.makedirs(ray_temp_dir(root), exist_ok=True)
    return root


def ray_temp_dir(temp_root: str) -> str:
    """Where Ray keeps its session files under a root from :func:`short_temp_dir`."""
    return os.path.join(temp_root, "ray")


def head_node_args(temp_root: str, *, num_cpus: float = 0, fast_failover: bool = True) -> dict[str, Any]:
    """Arguments for a head node (``ray.cluster_utils.Cluster(head_node_args=...)``).

    ``num_cpus=0`` keeps mob hosts off the head (they ask for CPU), so removing a worker node
    moves its mobs to another worker, never onto the machine running the control plane.
    """
    args: dict[str, Any] = {
        "num_cpus": num_cpus,
        "node_ip_address": LOOPBACK,
        "include_dashboard": False,
        "temp_dir": ray_temp_dir(temp_root),
    }
    if fast_failover:
        args["_system_config"] = dict(FAST_HEALTH_CHECKS)
    return args


def worker_node_args(*, num_cpus: float = 2) -> dict[str, Any]:
    """Arguments for a worker node on this machine (``Cluster.add_node(**worker_node_args())``)."""
    return {"num_cpus": num_cpus, "node_ip_address": LOOPBACK}


def init_args(temp_root: str, *, num_cpus: float | None = None, fast_failover: bool = True) -> dict[str, Any]:
    """Arguments for ``ray.init()`` starting a one-node private Ray (no cluster to join); call
    :func:`apply_private_env` with the same root first."""
    args: dict[str, Any] = {
        "include_dashboard": False,
        "_node_ip_address": LOOPBACK,
        "_temp_dir": ray_temp_dir(temp_root),
        "log_to_driver": False,
    }
    if num_cpus is not None:
        args["num_cpus"] = num_cpus
    if fast_failover:
        args["_system_config"] = dict(FAST_HEALTH_CHECKS)
    return args
