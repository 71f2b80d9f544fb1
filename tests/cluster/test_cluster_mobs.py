"""RayMobCluster on one LMDB journal: the MobHandle methods over Ray, errors at the door,
library errors raised unchanged on the caller's side."""

from __future__ import annotations

from pathlib import Path

import pytest

import journal
from mob_actors import InvalidTransition, MobDefinition, MobError, MobStatus, Profile
from mob_actors.cluster import LocalCluster, RayMobCluster
from mob_actors.core.events import turn_text

pytestmark = pytest.mark.ray

ECHO = "mob_actors.testing:EchoAgent"
TEAM = {"lead": Profile("lead", "You lead."), "helper": Profile("helper")}


def test_mob_lifecycle_through_a_ray_host(two_nodes: LocalCluster, tmp_path: Path) -> None:
    path = tmp_path / "j"
    with RayMobCluster(path, ECHO) as cluster:
        mob = cluster.create_mob(MobDefinition("team", TEAM, wiring=(("lead", "helper"),)))
        mob.spawn("lead", "lead", initial_prompt="plan")
        mob.spawn("helper", "helper")
        assert mob.turn("helper", "hi").text == "echo: hi"
        assert [m.member_id for m in mob.members()] == ["lead", "helper"]
        assert mob.member("lead").wired_to == ("helper",)
        mob.stop()
        assert mob.status() is MobStatus.STOPPED
        mob.resume()
        assert [h.mob_id for h in cluster.list_mobs()] == ["team"]
        assert cluster.mob("team").definition().profiles == TEAM

        host = cluster.where("team")
        assert host.node_id in {n.node_id for n in two_nodes.nodes}  # a worker, never the 0-CPU head
        events = [e.type for e in mob.events()]
        assert events[0] == "mob_created" and events.count("member_spawned") == 2
    # The host wrote the journal (and released it on shutdown): the turns are there.
    with journal.open(path, readonly=True) as j:
        turns = [e for s in j.streams("session:") for e in j.read(s.stream_id) if e.type == "turn_applied"]
        assert sorted(turn_text(e.data) for e in turns) == ["echo: hi", "echo: plan"]


def test_library_errors_cross_unchanged(two_nodes: LocalCluster, tmp_path: Path) -> None:
    with RayMobCluster(tmp_path / "j", ECHO) as cluster:
        mob = cluster.create_mob(MobDefinition("m", TEAM))
        with pytest.raises(MobError, match="no member 'ghost'"):
            mob.member("ghost")
        mob.complete()
        with pytest.raises(InvalidTransition) as info:
            mob.stop()
        assert info.value.from_state is MobStatus.COMPLETED  # the attributes came across too
        with pytest.raises(MobError, match="no mob 'nope'"):
            cluster.mob("nope")
        with pytest.raises(MobError, match="already exists"):
            cluster.create_mob(MobDefinition("m", TEAM))


def test_bad_arguments_are_refused_at_the_door(two_nodes: LocalCluster, tmp_path: Path) -> None:
    with pytest.raises(MobError, match="cannot be imported"):
        RayMobCluster(tmp_path / "j", "no_such_module:make")
    with pytest.raises(MobError, match=r"'package\.module:function'"):
        RayMobCluster(tmp_path / "j", "EchoAgent")
    with pytest.raises(MobError, match="unsupported journal URL"):
        RayMobCluster("mysql://x/y", ECHO)
    cluster = RayMobCluster(tmp_path / "j", ECHO)
    with pytest.raises(MobError, match="takes a MobDefinition"):
        cluster.create_mob({"mob_id": "x"})  # type: ignore[arg-type]
