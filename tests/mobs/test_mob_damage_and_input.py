"""Mobs and damaged or bad data (issue 13 items 5, 9-11; issue 14 items 12, 13, 16, 17).

A damaged mob event keeps only that mob closed; a damaged member session makes only that member
BROKEN; bad arguments are refused with a MobError naming them; errors say what to do next; a
restart records nothing in the members' sessions.
"""

from __future__ import annotations

from typing import Any

import pytest

import journal
from mob_actors import (
    AgentError,
    CorruptMobEvent,
    InvalidTransition,
    MemberState,
    MobDefinition,
    MobError,
    MobStatus,
    Profile,
    TurnOutcome,
)
from mob_actors.core import mob_decide as rules
from mob_actors.core.mob import MAX_MOB_ID_BYTES, MobState, fold_mob
from mob_actors.testing import ScriptedAgent

from mob_helpers import team

# -- damaged records (issue 13 item 5) ---------------------------------------------------------


@pytest.mark.parametrize(("event", "problem"), [
    (journal.Event("member_spawned", {"member_id": "x", "session_id": "s", "labels": {}, "at_ms": 1}), "it has no field 'profile'"),
    (journal.Event("member_spawned", {"member_id": "x", "profile": "worker", "session_id": "s", "labels": 5, "at_ms": 1}), "TypeError"),
    (journal.Event("mob_teleported", {"at_ms": 1}), "not a mob event type this version knows"),
    (journal.Event("mob_created", {"definition": {"mob_id": "broken", "profiles": {"p": {"name": 3}}}, "at_ms": 1}), "Profile.name"),
])
def test_one_damaged_mob_stays_closed_and_the_others_open(open_runtime, jpath, event: journal.Event, problem: str) -> None:
    runtime = open_runtime()
    broken, healthy = runtime.create_mob(team("broken")), runtime.create_mob(team("healthy"))
    broken.spawn("a", "worker", initial_prompt="hi")
    h = healthy.spawn("h", "worker", initial_prompt="yo")
    runtime.close()
    with journal.open(jpath) as j:
        seq = j.append("mob:broken", [event]).last_seq

    reopened = open_runtime()
    assert [m.mob_id for m in reopened.list_mobs()] == ["healthy"]
    reason = reopened.unresumable_mobs()["broken"]
    assert f"mob:broken seq {seq}" in reason and problem in reason
    with pytest.raises(MobError, match=f"cannot resume mob 'broken': mob:broken seq {seq}"):
        reopened.mob("broken")
    again = reopened.mob("healthy")
    assert again.member("h").state is MemberState.ACTIVE and again.member("h").session_id == h.session_id
    assert again.turn("h", "more").text == "echo: more"


def test_fold_mob_raises_corrupt_mob_event_naming_stream_seq_and_field() -> None:
    with pytest.raises(CorruptMobEvent) as info:
        fold_mob("m", [journal.Event("mob_created", {"definition": team("m").to_dict(), "at_ms": 1}), journal.Event("peers_wired", {"a": "x"})])
    e = info.value
    assert (e.stream, e.seq, e.event_type, e.field) == ("mob:m", 2, "peers_wired", "b")
    assert isinstance(e, MobError)


def test_a_damaged_member_session_makes_only_that_member_broken(open_runtime, jpath) -> None:
    runtime = open_runtime()
    mob = runtime.create_mob(team())
    bad = mob.spawn("bad", "worker", initial_prompt="one")
    mob.spawn("good", "worker", initial_prompt="two")
    other = runtime.create_mob(team("other"))
    other.spawn("o", "lead")
    runtime.close()
    with journal.open(jpath) as j:
        seq = j.append("session:" + bad.session_id, [journal.Event("context_appended", {"text": "t", "at_ms": 1})]).last_seq

    reopened = open_runtime()
    mob = reopened.mob("team")
    broken = mob.member("bad")
    assert broken.state is MemberState.BROKEN
    assert broken.error is not None and f"session:{bad.session_id} seq {seq}" in broken.error and "no field 'source'" in broken.error
    assert mob.member("good").state is MemberState.ACTIVE
    assert mob.turn("good", "three").text == "echo: three"
    with pytest.raises(MobError, match="is broken"):
        mob.turn("bad", "x")
    assert reopened.mob("other").member("o").state is MemberState.ACTIVE


# -- a restart records nothing (issue 14 item 12) ----------------------------------------------


def test_open_restores_members_without_writing_to_their_sessions(open_runtime) -> None:
    runtime = open_runtime()
    running, stopped = runtime.create_mob(team("running")), runtime.create_mob(team("stopped"))
    a = running.spawn("a", "worker", initial_prompt="hi")
    b = stopped.spawn("b", "worker", initial_prompt="yo")
    stopped.stop()
    runtime.close()

    def types(rt: Any, session_id: str) -> list[str]:
        return [e.type for e in rt.journal.read("session:" + session_id)]

    expected_a = ["session_created", "turn_applied"]
    for _ in range(2):
        reopened = open_runtime()
        assert types(reopened, a.session_id) == expected_a  # no session_revived on open
        assert types(reopened, b.session_id) == ["session_created", "turn_applied"]
        assert reopened.service.has_live_session(a.session_id) and reopened.service.has_live_session(b.session_id)
        assert reopened.mob("running").member("a").state is MemberState.ACTIVE
        assert reopened.mob("running").turn("a", "again").text == "echo: again"
        expected_a.append("turn_applied")
        reopened.close()


# -- bad arguments (issue 13 items 9 and 11) --------------------------------------------------


@pytest.mark.parametrize(("make", "match"), [
    (lambda: MobDefinition("x" * (MAX_MOB_ID_BYTES + 1), {}), f"mob_id is {MAX_MOB_ID_BYTES + 1} bytes of UTF-8; a mob id may have at most {MAX_MOB_ID_BYTES}"),
    (lambda: MobDefinition("bad\ud800", {}), "mob_id contains a lone surrogate"),
    (lambda: MobDefinition("m", [Profile("p")]), "MobDefinition.profiles must be a dict of name -> Profile, got list"),
    (lambda: MobDefinition("m", {"p": "You lead."}), r"MobDefinition.profiles\['p'\] must be a Profile, got str"),
    (lambda: MobDefinition("m", {}, wiring=(("a", "a"),)), "cannot wire member 'a' to itself"),
    (lambda: MobDefinition("m", {}, wiring=(("a",),)), r"\('a',\) is not a pair of two member ids"),
    (lambda: MobDefinition("m", {}, wiring="ab"), "wiring must be a tuple of"),
    (lambda: Profile("p", system_prompt=123), "Profile.system_prompt must be a str or None, got int 123"),
    (lambda: Profile("p", metadata={"x": float("nan")}), r"Profile.metadata\['x'\]: nan is not allowed"),
    (lambda: Profile(""), "Profile.name must not be empty"),
])
def test_a_bad_definition_is_refused_naming_the_field(make: Any, match: str) -> None:
    with pytest.raises(MobError, match=match):
        make()


def test_the_longest_mob_id_works(open_runtime) -> None:
    runtime = open_runtime()
    mob = runtime.create_mob(team("m" * MAX_MOB_ID_BYTES))
    mob.spawn("a", "worker", initial_prompt="hi")
    assert mob.status() is MobStatus.RUNNING


def test_a_definition_keeps_its_wiring_and_metadata_as_read_back_from_the_journal() -> None:  # issue 14 item 15
    definition = MobDefinition("m", {"p": Profile("p", metadata={"tools": ("a", "b")})}, wiring=[["x", "y"]])
    assert definition.wiring == (("x", "y"),) and definition.profiles["p"].metadata == {"tools": ["a", "b"]}
    assert MobDefinition.from_dict(definition.to_dict()) == definition


@pytest.mark.parametrize(("args", "match"), [
    (("b", "worker", {"labels": "x"}), "spawn in mob 'team': labels must be a dict or None, got str"),
    (("b", "worker", {"labels": {"k": {1}}}), r"labels\['k'\]: set cannot be stored"),
    (("b\udc00", "worker", {}), "member_id contains a lone surrogate"),
    (("b", 5, {}), "profile must be a str, got int"),
])
def test_spawn_refuses_bad_arguments_before_creating_a_session(open_runtime, args: Any, match: str) -> None:
    runtime = open_runtime()
    mob = runtime.create_mob(team())
    member_id, profile, kw = args
    with pytest.raises(MobError, match=match):
        mob.spawn(member_id, profile, **kw)
    assert mob.members() == [] and runtime.service.live_session_ids() == []


def test_create_mob_and_spawn_refuse_wrong_types_before_anything_is_recorded(open_runtime) -> None:
    runtime = open_runtime()
    with pytest.raises(MobError, match="create_mob expects a MobDefinition, got str"):
        runtime.create_mob("team")  # type: ignore[arg-type]
    mob = runtime.create_mob(team())
    with pytest.raises(MobError, match="initial_prompt must be a str or None, got int"):
        mob.spawn("a", "worker", initial_prompt=5)  # type: ignore[arg-type]
    assert mob.members() == [] and [e.type for e in mob.events()] == ["mob_created"]


def test_a_bad_agent_outcome_three_times_leaves_the_member_active(open_runtime) -> None:  # item 10
    bad = TurnOutcome(messages=None, text="x")  # type: ignore[arg-type]
    runtime = open_runtime(ScriptedAgent(["fine", bad, bad, bad, "still fine"]))
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker", initial_prompt="one")
    for _ in range(3):
        with pytest.raises(AgentError, match=r"TurnOutcome\.messages must be a list"):
            mob.turn("a", "again")
    assert mob.member("a").state is MemberState.ACTIVE
    assert mob.turn("a", "last").text == "still fine"


# -- errors that say what to do next (issue 14 items 13 and 17) ---------------------------------


def test_mob_errors_say_what_to_do_next(open_runtime) -> None:
    runtime = open_runtime()
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker")
    mob.stop()
    with pytest.raises(InvalidTransition, match=r"cannot run a turn while stopped; call resume\(\) first"):
        mob.turn("a", "x")
    with pytest.raises(InvalidTransition, match=r"cannot spawn while stopped; call resume\(\) first"):
        mob.spawn("b", "worker")
    mob.resume()
    with pytest.raises(InvalidTransition, match="the mob is already running"):
        mob.resume()
    mob.complete()
    with pytest.raises(InvalidTransition, match=r"a completed mob does not resume; reset\(\) starts a new epoch"):
        mob.resume()
    with pytest.raises(InvalidTransition, match=r"cannot run a turn while completed; the mob is completed; reset\(\) starts a new epoch"):
        mob.turn("a", "x")
    mob.reset()
    assert mob.status() is MobStatus.RUNNING


def test_a_destroyed_mob_answers_destroyed_and_says_so_on_other_calls(open_runtime) -> None:
    runtime = open_runtime()
    mob = runtime.create_mob(team())
    mob.destroy()
    assert mob.status() is MobStatus.DESTROYED
    with pytest.raises(MobError, match=r"mob 'team' was destroyed; create it again with runtime.create_mob\(\)"):
        mob.members()


def test_list_mobs_after_close_raises_the_closed_error(open_runtime) -> None:
    runtime = open_runtime()
    runtime.create_mob(team())
    runtime.close()
    for call in (runtime.list_mobs, runtime.unresumable_mobs, lambda: runtime.mob("team")):
        with pytest.raises(MobError, match="the mob runtime is closed"):
            call()


# -- wiring to a member that does not exist (issue 14 item 16) ----------------------------------


def test_wiring_to_a_member_that_does_not_exist_is_refused() -> None:
    state = fold_mob("m", [
        journal.Event("mob_created", {"definition": team("m").to_dict(), "at_ms": 1}),
        journal.Event("member_spawned", {"member_id": "a", "profile": "worker", "session_id": "s", "labels": {}, "at_ms": 1}),
    ])
    for command in (rules.Wire("a", "ghost", 2), rules.Wire("ghost", "a", 2), rules.Unwire("a", "ghost", 2)):
        with pytest.raises(MobError, match="mob 'm' has no member 'ghost'"):
            rules.decide(state, command)
    assert isinstance(state, MobState) and state.roster["a"].wired_to == frozenset()
