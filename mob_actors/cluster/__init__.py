"""Mobs placed on a Ray cluster, failing over by themselves (``pip install mob-actors[ray]``).

    import ray
    from mob_actors.cluster import RayMobCluster
    ray.init(address="auto")
    cluster = RayMobCluster("postgresql://...", "myapp.agents:make_agent")
    mob = cluster.create_mob(definition)
    mob.spawn("lead", "lead")
    mob.turn("lead", "Plan the release.")   # exactly once, also across a failover

Ray decides where each mob's host actor runs and restarts it on another node when its node
dies; the shared journal's ownership makes sure a restarted host never writes beside the old
one. :class:`LocalCluster` runs a multi-node Ray cluster on this machine; :mod:`.settings` has
the settings of a private cluster. Nothing else in ``mob_actors`` imports this package.
"""

from __future__ import annotations

from .handle import ClusterMobHandle, MobUnavailable
from .host import HostInfo
from .local import LocalCluster
from .placement import RayMobCluster

__all__ = ["ClusterMobHandle", "HostInfo", "LocalCluster", "MobUnavailable", "RayMobCluster"]
