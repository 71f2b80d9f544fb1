"""MobHandle.fork (issue 12): every member forked at one consistent journal point, with the roster
and wiring as they were; the source is untouched; the fork runs, survives a restart, and verifies."""

from __future__ import annotations

import pytest

from mob_actors import InvalidTransition, MobError, MobStatus
from mob_actors.core import mob_decide as rules
from mob_actors.core.mob import MobState, evolve_mob, fold_mob
from mob_actors.core.recovery import recover

from mob_helpers import messages, team
from support import run_python


def test_a_mob_fork_copies_roster_wiring_and_each_session_at_one_point(open_runtime, jpath):
    runtime = open_runtime()
    mob = runtime.create_mob(team())
    mob.spawn("boss", "lead", initial_prompt="plan", labels={"desk": "7"})
    mob.spawn("w1", "worker")
    mob.spawn("w2", "worker")
    mob.wire("boss", "w1")
    mob.turn("w1", "build it")
    point = runtime.journal.head()
    at_point = {m.member_id: recover(runtime.journal, m.session_id) for m in mob.members()}
    # after the point: more turns, a retire, a new wire; none of it goes into the fork
    mob.turn("boss", "later")
    mob.wire("boss", "w2")
    mob.retire("w1")
    source_events = list(mob.events())

    fork = mob.fork("team-b", at_position=point)
    assert fork.mob_id == "team-b" and fork.status() is MobStatus.RUNNING
    assert fork.definition().profiles == mob.definition().profiles
    members = {m.member_id: m for m in fork.members()}
    assert sorted(members) == ["boss", "w1", "w2"]
    assert {k: v.wired_to for k, v in members.items()} == {"boss": ("w1",), "w1": ("boss",), "w2": ()}
    for member_id, member in members.items():
        s = runtime.service.read(member.session_id)
        assert s.messages == at_point[member_id].messages  # the session as it was at the point
        assert s.binding.mob_id == "team-b" and s.binding.member_id == member_id
        assert s.labels["mob_id"] == "team-b" and member.session_id != at_point[member_id].id
        lineage = recover(runtime.journal, member.session_id).lineage()
        assert lineage["source_id"] == at_point[member_id].id and lineage["seq"] == at_point[member_id].seq
    assert members["boss"].labels["desk"] == "7"
    assert list(mob.events()) == source_events  # the source is untouched
    assert [m.member_id for m in mob.members()] == ["boss", "w2"]
    forked = next(e for e in fork.events() if e.type == "mob_forked")
    assert forked.data["source_mob_id"] == "team" and forked.data["at_position"] == point
    assert fork.state().forked_from["source_mob_id"] == "team"

    fork.turn("w1", "again")  # the fork runs on its own
    assert messages(runtime, members["w1"].session_id)[-1]["content"] == "echo: again"
    now = mob.fork("team-c")  # default: now
    assert sorted(m.member_id for m in now.members()) == ["boss", "w2"]
    assert [m.wired_to for m in now.members()] == [("w2",), ("boss",)]
    runtime.close()

    again = open_runtime()
    assert sorted(m.member_id for m in again.mob("team-b").members()) == ["boss", "w1", "w2"]
    assert all(m.state.value == "active" for m in again.mob("team-b").members())
    again.close()
    verify = run_python("-m", "mob_actors.replay", "verify", jpath, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_mob_fork_refuses_what_cannot_be_forked(runtime):
    mob = runtime.create_mob(team())
    mob.spawn("boss", "lead")
    with pytest.raises(MobError, match="already exists"):
        mob.fork("team")
    for bad in (0, runtime.journal.head() + 1, "1", True):
        with pytest.raises(MobError, match="at_position must be a journal position"):
            mob.fork("other", at_position=bad)
    with pytest.raises(MobError, match="did not exist"):
        runtime.fork_mob("nobody", "other")
    assert [h.mob_id for h in runtime.list_mobs()] == ["team"]  # nothing was made by the refusals
    created = next(iter(runtime.journal.read("mob:team"))).position
    empty = mob.fork("empty", at_position=created)  # just after mob_created: no member yet
    assert empty.members() == [] and empty.status() is MobStatus.RUNNING


def test_fork_is_decided_like_every_mob_command():
    source = fold_mob("team", rules.decide(MobState("team"), rules.Create(team(wiring=(("a", "b"),)), 1)))
    for member_id, profile, sid in (("a", "lead", "s-a"), ("b", "worker", "s-b")):
        for e in rules.decide(source, rules.Spawn(member_id, profile, sid, 2)):
            source = evolve_mob(source, e)
    sessions = {"a": ("f-a", "s-a", 3), "b": ("f-b", "s-b", 4)}
    events = rules.decide(MobState("copy"), rules.Fork(source, 9, sessions, 5))
    assert [e.type for e in events] == ["mob_created", "mob_forked", "member_spawned", "member_spawned", "peers_wired"]
    state = fold_mob("copy", events)
    assert {m: e.session_id for m, e in state.roster.items()} == {"a": "f-a", "b": "f-b"}
    assert state.roster["a"].wired_to == {"b"} and state.forked_from == {"source_mob_id": "team", "at_position": 9, "sessions": {"a": ["s-a", 3], "b": ["s-b", 4]}}
    assert state.roster["a"].labels["mob_id"] == "copy" and state.definition.mob_id == "copy"
    with pytest.raises(InvalidTransition):
        rules.decide(state, rules.Fork(source, 9, sessions, 5))  # the new mob must not exist yet
    with pytest.raises(MobError, match="roster"):
        rules.decide(MobState("copy2"), rules.Fork(source, 9, {"a": sessions["a"]}, 5))
