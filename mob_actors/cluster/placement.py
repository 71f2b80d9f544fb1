"""``RayMobCluster``: durable mobs placed on a Ray cluster, restarted elsewhere when a node dies.

Mobs live in named Ray actors (:class:`.host.MobHost`), their *hosts*, which Ray restarts
without limit, on another node when their node is gone. Ray decides where; the journal decides
who may write: a restarted host serves only once it owns its mobs, so there is never a second
writer.

* A PostgreSQL journal (``postgresql://...``) is shared by every machine: each mob has a host
  of its own, so mobs spread over the nodes and fail over one by one; its ownership is the mob's
  lock (``MobRuntime``'s advisory lock on the host's writer connection).
* A journal directory (LMDB) has one writer process, so one host serves all its mobs, and every
  node must see the directory (nodes on one machine: tests, development); the ownership is the
  directory's process lock.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from typing import Any

import ray

import journal

from ..core import events as ev
from ..core.errors import MobError
from ..core.mob import MobDefinition, MobStatus, fold_mob
from .handle import ClusterMobHandle
from .host import MOB_GROUP, AgentFactory, HostInfo, MobHost, resolve_agent_factory

NAMESPACE = "mob-actors"
ONE_GROUP = "journal"  # the group of every mob of a journal directory

_MobHostActor = ray.remote(MobHost)


class RayMobCluster:
    """Mobs on a shared journal, hosted by Ray actors. Connect to Ray (``ray.init``) first.

    ``agent_factory`` is ``"package.module:function"`` (or a picklable callable) that every host
    process calls once to build its own agent. ``num_cpus`` is what each host actor reserves on
    its node (a node with no CPUs, like a head started with ``num_cpus=0``, hosts none).
    ``failover_timeout_s`` bounds how long a call waits for a mob's host to serve again (a new
    host waits as long as it takes for the previous one's writer lock; calls give up earlier).
    ``detached=True`` keeps the hosts running after this driver exits.
    """

    def __init__(
        self,
        journal_url: str | os.PathLike[str],
        agent_factory: str | AgentFactory,
        *,
        namespace: str = NAMESPACE,
        num_cpus: float = 0.1,
        max_concurrency: int = 64,
        detached: bool = False,
        call_timeout_s: float = 120.0,
        failover_timeout_s: float = 60.0,
    ) -> None:
        if not ray.is_initialized():
            raise MobError("RayMobCluster needs a Ray connection: call ray.init(address=...) first "
                           "(mob_actors.cluster.LocalCluster starts one on this machine)")
        self.journal_url = _normalise(journal_url)
        resolve_agent_factory(agent_factory)  # a name that cannot be imported is refused here, not on a node
        self.agent_factory = agent_factory
        self.namespace = namespace
        self.per_mob = self.journal_url.startswith(("postgresql://", "postgres://"))
        self.call_timeout_s = call_timeout_s
        self.failover_timeout_s = failover_timeout_s
        self._options: dict[str, Any] = {
            "namespace": namespace,
            "get_if_exists": True,
            "max_restarts": -1,
            # Ray does not repeat a call on its own: the handle decides what is safe to repeat.
            "max_task_retries": 0,
            "max_concurrency": max_concurrency,
            "num_cpus": num_cpus,
            "lifetime": "detached" if detached else None,
        }
        self._key = hashlib.sha256(_without_password(self.journal_url).encode()).hexdigest()[:12]
        self._hosts: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<RayMobCluster {_without_password(self.journal_url)!r}>"

    # -- placement ---------------------------------------------------------------------------

    def _group(self, mob_id: str) -> str:
        return MOB_GROUP + mob_id if self.per_mob else ONE_GROUP

    def _host_for(self, mob_id: str) -> Any:
        """The Ray actor handle hosting ``mob_id``'s group (created, or found by name)."""
        group = self._group(mob_id)
        with self._lock:
            host = self._hosts.get(group)
            if host is None:
                name = f"mobhost/{self._key}/{group}"
                host = _MobHostActor.options(name=name, **self._options).remote(self.journal_url, self.agent_factory, group)
                self._hosts[group] = host
            return host

    def _forget_host(self, mob_id: str) -> None:
        with self._lock:
            self._hosts.pop(self._group(mob_id), None)

    def _hosted_ids(self, mob_id: str) -> list[str]:
        """The mobs served by ``mob_id``'s host (asked of it, through a failover)."""
        return ClusterMobHandle(self, mob_id)._ask(lambda host: host.mob_ids.remote(), "mob_ids", None)  # type: ignore[no-any-return]

    # -- mobs --------------------------------------------------------------------------------

    def create_mob(self, definition: MobDefinition) -> ClusterMobHandle:
        """Record a new mob (running, no members yet) on its host; returns its handle."""
        if not isinstance(definition, MobDefinition):
            raise MobError(f"create_mob takes a MobDefinition, got {type(definition).__name__}")
        handle = ClusterMobHandle(self, definition.mob_id)

        def created() -> tuple[bool, ClusterMobHandle]:
            return definition.mob_id in self._hosted_ids(definition.mob_id), handle

        handle._ask(lambda host: host.create_mob.remote(definition), "create_mob", created)
        return handle

    def mob(self, mob_id: str) -> ClusterMobHandle:
        """The handle of an existing mob (its host is started, and resumes it, if none runs)."""
        if mob_id not in self._hosted_ids(mob_id):
            if self.per_mob:
                self._stop_host(self._group(mob_id))  # a host of its own for a mob that is not there
            raise MobError(f"no mob {mob_id!r} in journal {_without_password(self.journal_url)}")
        return ClusterMobHandle(self, mob_id)

    def list_mobs(self) -> list[ClusterMobHandle]:
        """Every mob of the journal that is not destroyed, by id (their hosts start on first use)."""
        ids = _mobs_in(self.journal_url) if self.per_mob else self._hosted_ids("")
        return [ClusterMobHandle(self, m) for m in sorted(ids)]

    def _destroyed(self, mob_id: str) -> None:
        if self.per_mob:  # its own host has nothing left to do
            self._stop_host(self._group(mob_id))

    def where(self, mob_id: str) -> HostInfo:
        """Where ``mob_id`` runs now (Ray node id, pid); waits through a failover."""
        return ClusterMobHandle(self, mob_id).host()

    # -- shutdown ----------------------------------------------------------------------------

    def _stop_host(self, group: str) -> None:
        with self._lock:
            host = self._hosts.pop(group, None)
        if host is None:
            return
        try:
            ray.get(host.close.remote(), timeout=self.call_timeout_s)
        except ray.exceptions.RayError:
            pass  # already gone: nothing to close
        ray.kill(host, no_restart=True)

    def shutdown(self) -> None:
        """Close every host this cluster object started or found (their runtimes, then the actors)."""
        for group in list(self._hosts):
            self._stop_host(group)

    def __enter__(self) -> RayMobCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _mobs_in(journal_url: str) -> list[str]:
    """The mobs of a shared journal that are not destroyed (read here, read-only)."""
    with journal.open(journal_url, readonly=True) as j:
        found = []
        for info in j.streams(ev.MOB_STREAM_PREFIX):
            mob_id = info.stream_id[len(ev.MOB_STREAM_PREFIX):]
            history = list(j.read(info.stream_id))
            if history and fold_mob(mob_id, history).status is not MobStatus.DESTROYED:
                found.append(mob_id)
        return found


def _normalise(journal_url: str | os.PathLike[str]) -> str:
    url = os.fspath(journal_url)
    if not isinstance(url, str) or not url:
        raise MobError(f"journal_url must be a postgresql:// URL or a directory, got {journal_url!r}")
    if "://" in url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise MobError(f"unsupported journal URL {_without_password(url)!r}: use postgresql://... or a directory")
        return url
    return os.path.abspath(url)  # Ray workers run in other directories


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1@", url)
