"""A mob host serves only once it owns its mob, and a handle gives up with a clear error when no
host serves in time (PostgreSQL journal: the ownership lock is the mob's advisory lock); each mob
of a shared journal has a host of its own."""

from __future__ import annotations

import os
import time

import pytest
import ray

import journal
from mob_actors import MobDefinition, MobError, Profile
from mob_actors.cluster import LocalCluster, MobUnavailable, RayMobCluster
from mob_actors.mobs.runtime import mob_lock

pytestmark = pytest.mark.ray

ECHO = "mob_actors.testing:EchoAgent"
TEAM = MobDefinition("team", {"lead": Profile("lead")})
KEY = mob_lock("team")  # on PostgreSQL each mob has a host of its own, owning the mob's lock


def test_a_host_serves_only_after_the_previous_owner_let_go(two_nodes: LocalCluster, pg_url: str) -> None:
    owner = journal.open(pg_url)  # the previous host, still holding the journal
    try:
        assert owner.try_lock(KEY)
        with RayMobCluster(pg_url, ECHO) as cluster:
            host = cluster._host_for("team")
            deadline = time.monotonic() + 30
            while "served by" not in (ray.get(host.where.remote()).waiting_for or ""):
                assert time.monotonic() < deadline, "the host never reported waiting for the lock"
                time.sleep(0.05)
            info = ray.get(host.where.remote())
            assert info.open_s is None and f"pid {os.getpid()}" in (info.waiting_for or "")
            owner.close()  # closing the writer connection gives up the lock
            mob = cluster.create_mob(TEAM)
            mob.spawn("lead", "lead")
            assert mob.turn("lead", "hi").text == "echo: hi"
            assert cluster.where("team").open_s is not None
    finally:
        owner.close()


def test_no_serving_host_in_time_gives_mob_unavailable(two_nodes: LocalCluster, pg_url: str) -> None:
    owner = journal.open(pg_url)
    try:
        assert owner.try_lock(KEY)
        with RayMobCluster(pg_url, ECHO, failover_timeout_s=3) as cluster:
            started = time.monotonic()
            with pytest.raises(MobUnavailable, match=r"no serving host for 3s .*served by") as info:
                cluster.create_mob(TEAM)
            assert time.monotonic() - started < 15  # bounded by failover_timeout_s
            assert "may or may not" not in str(info.value)  # refused before it ran: nothing applied
            owner.unlock(KEY)
            cluster.create_mob(TEAM).spawn("lead", "lead")  # the same host takes over once free
    finally:
        owner.close()


def test_each_mob_of_a_shared_journal_has_its_own_host(two_nodes: LocalCluster, pg_url: str) -> None:
    with RayMobCluster(pg_url, ECHO) as cluster:
        for mob_id in ("one", "two"):
            cluster.create_mob(MobDefinition(mob_id, {"lead": Profile("lead")})).spawn("lead", "lead")
        one, two = cluster.where("one"), cluster.where("two")
        assert one.pid != two.pid and one.group == "mob:one"
        assert [h.mob_id for h in cluster.list_mobs()] == ["one", "two"]
        cluster.mob("one").destroy()
        assert [h.mob_id for h in cluster.list_mobs()] == ["two"]
        with pytest.raises(MobError, match="no mob 'one'"):
            cluster.mob("one")
        assert cluster.mob("two").turn("lead", "still here").text == "echo: still here"
