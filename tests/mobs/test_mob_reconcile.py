"""Reconciliation: on resume and on MobRuntime.open the live sessions are made to match the roster.

Section 6 items covered here: 32-35, 37-39, 42, 45-47 (trust = plain peer wiring).
"""

from __future__ import annotations

import pytest

from mob_actors import (
    CreateSessionRequest,
    InvalidTransition,
    MemberState,
    MobBinding,
    MobError,
    MobStatus,
)
from mob_actors.core import events as ev
from mob_actors.testing import ScriptedAgent

from mob_helpers import messages, team


def snapshot(mob) -> tuple:
    """What a host can see of a mob: status, definition, members (without runtime-only fields)."""
    return mob.status(), mob.definition(), [(m.member_id, m.profile, m.session_id, m.wired_to, m.labels) for m in mob.members()]


def build_two_mobs(runtime) -> dict:
    """Two mobs with wired members and some history; returns what each member's session holds."""
    alpha = runtime.create_mob(team("alpha", wiring=(("lead", "w1"),)))
    beta = runtime.create_mob(team("beta"))
    alpha.spawn("lead", "lead", initial_prompt="plan")
    alpha.spawn("w1", "worker", labels={"shift": "night"})
    alpha.spawn("w2", "worker")
    alpha.spawn("w3", "worker")
    alpha.wire("w1", "w2")
    alpha.wire("w2", "w3")
    alpha.wire("lead", "w3")
    alpha.unwire("w2", "w3")
    alpha.retire("w3")  # takes its wire to lead with it
    alpha.turn("w1", "do a")
    alpha.turn("w1", "do b")
    beta.spawn("solo", "worker", initial_prompt="alone")
    beta.stop()
    return {m.session_id: messages(runtime, m.session_id) for mob in (alpha, beta) for m in mob.members()}


# -- open and resume restore what there was (items 33, 35, 39, 45, 46) -------------------------


def test_open_brings_every_mob_back_with_roster_wiring_and_history_without_agent_calls(open_runtime) -> None:  # 33, 35, 46
    first = open_runtime()
    histories = build_two_mobs(first)
    before = {mob.mob_id: snapshot(mob) for mob in first.list_mobs()}
    retired = [e.data["session_id"] for e in first.journal.read("mob:alpha") if e.type == "member_spawned" and e.data["member_id"] == "w3"]
    first.close()

    agent = ScriptedAgent(default="after reopen")
    second = open_runtime(agent)
    assert {mob.mob_id: snapshot(mob) for mob in second.list_mobs()} == before
    alpha, beta = second.mob("alpha"), second.mob("beta")
    assert alpha.member("lead").wired_to == ("w1",)  # the wire to retired w3 is gone
    assert alpha.member("w2").wired_to == ("w1",)
    assert all(m.state is MemberState.ACTIVE for mob in (alpha, beta) for m in mob.members())
    # Exactly the roster's sessions are live, with the same ids and full histories.
    assert set(second.service.live_session_ids()) == set(histories)
    assert retired[0] not in second.service.live_session_ids()
    for session_id, history in histories.items():
        assert messages(second, session_id) == history
    assert agent.calls == []  # restoring ran no turn
    assert beta.status() is MobStatus.STOPPED
    assert alpha.turn("w2", "new work").text == "after reopen"
    assert agent.calls == ["new work"]


def test_open_keeps_a_stopped_mob_stopped_with_checkpointers_cancelled(open_runtime) -> None:
    first = open_runtime()
    build_two_mobs(first)
    first.close()
    second = open_runtime()
    beta = second.mob("beta")
    solo = beta.member("solo").session_id
    assert beta.status() is MobStatus.STOPPED
    assert not second.service.checkpointer_armed(solo)
    assert second.service.checkpoint(solo) is False
    alpha_sessions = [m.session_id for m in second.mob("alpha").members()]
    assert all(second.service.checkpointer_armed(s) for s in alpha_sessions)
    with pytest.raises(InvalidTransition):
        beta.turn("solo", "x")
    beta.resume()
    assert second.service.checkpointer_armed(solo)
    assert beta.turn("solo", "back").text == "echo: back"


def test_a_completed_mob_reopens_completed_and_restores_nothing(open_runtime) -> None:
    first = open_runtime()
    mob = first.create_mob(team("done"))
    a = mob.spawn("a", "worker", initial_prompt="x")
    mob.complete()
    first.close()
    second = open_runtime()
    assert second.mob("done").status() is MobStatus.COMPLETED
    assert second.mob("done").members() == []
    assert a.session_id not in second.service.live_session_ids()
    assert second.service.list_sessions() == []


def test_a_reset_mob_reopens_in_its_new_epoch(open_runtime) -> None:
    first = open_runtime()
    mob = first.create_mob(team("r"))
    old = mob.spawn("a", "worker")
    mob.reset()
    new = mob.spawn("a", "worker", initial_prompt="epoch two")
    first.close()
    second = open_runtime()
    reopened = second.mob("r")
    assert [m.session_id for m in reopened.members()] == [new.session_id]
    assert set(second.service.live_session_ids()) == {new.session_id}
    assert old.session_id != new.session_id
    assert reopened.status() is MobStatus.RUNNING


def test_resume_restores_a_member_whose_live_session_was_dropped(open_runtime) -> None:  # item 35
    agent = ScriptedAgent(["one", "two"])
    runtime = open_runtime(agent)
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker", initial_prompt="first")
    mob.turn("a", "second")
    history = messages(runtime, a.session_id)
    mob.stop()
    runtime.service.discard_live_session(a.session_id)  # not live any more; its history is durable
    assert not runtime.service.has_live_session(a.session_id)
    calls = list(agent.calls)
    mob.resume()
    member = mob.member("a")
    assert (member.session_id, member.state) == (a.session_id, MemberState.ACTIVE)
    assert runtime.service.live_session_ids() == [a.session_id]
    assert messages(runtime, a.session_id) == history
    assert agent.calls == calls


def test_restored_sessions_keep_profile_metadata_labels_and_binding(open_runtime) -> None:  # item 45
    first = open_runtime()
    mob = first.create_mob(team())
    lead = mob.spawn("boss", "lead", labels={"desk": "7"})
    first.close()
    second = open_runtime()
    session = second.service.read(lead.session_id)
    assert session.metadata == {"model": "m-lead", "tools": ["plan"]}
    assert session.labels == {"desk": "7", "mob_id": "team", "role": "lead", "member_id": "boss"}
    assert session.binding == MobBinding("team", "lead", "boss")
    assert session.messages[0] == {"role": "system", "content": "You lead."}


def test_persisted_not_live_sessions_are_restored_by_open(open_runtime, open_journal, persistent_service, jpath) -> None:  # item 39
    first = open_runtime()
    mob = first.create_mob(team())
    a = mob.spawn("a", "worker", initial_prompt="x")
    first.close()
    j = open_journal()
    service = persistent_service(j)
    summary = {s.id: s for s in service.list_sessions()}[a.session_id]
    assert summary.is_live is False  # listed, but only persisted
    runtime = open_runtime(path=j, session_service=service)
    assert service.has_live_session(a.session_id)
    assert runtime.mob("team").member("a").state is MemberState.ACTIVE
    assert {s.id: s.is_live for s in service.list_sessions()}[a.session_id] is True


# -- orphans (item 34) ---------------------------------------------------------------------------


def test_resume_archives_live_orphans_bound_to_the_mob_only(runtime) -> None:  # item 34
    mob = runtime.create_mob(team())
    runtime.create_mob(team("other"))
    a = mob.spawn("a", "worker")
    svc = runtime.service
    orphan = svc.create_session(CreateSessionRequest(binding=MobBinding("team", "worker", "ghost")))
    foreign = svc.create_session(CreateSessionRequest(binding=MobBinding("other", "worker", "ghost")))
    unbound = svc.create_session(CreateSessionRequest(labels={"mob_id": "team"}))
    mob.stop()
    mob.resume()
    assert not svc.has_live_session(orphan.id)
    assert svc.read(orphan.id).archived
    assert orphan.id not in {s.id for s in svc.list_sessions()}
    assert set(svc.live_session_ids()) == {a.session_id, foreign.id, unbound.id}
    assert mob.member("a").state is MemberState.ACTIVE


def test_open_archives_live_orphans_of_a_passed_in_service(open_runtime, open_journal, persistent_service) -> None:  # item 34
    first = open_runtime()
    first.create_mob(team())
    first.close()
    j = open_journal()
    service = persistent_service(j)
    orphan = service.create_session(CreateSessionRequest(binding=MobBinding("team", "lead", "old")))
    keep = service.create_session(CreateSessionRequest())
    open_runtime(path=j, session_service=service)
    assert not service.has_live_session(orphan.id) and service.read(orphan.id).archived
    assert service.live_session_ids() == [keep.id]


def test_persisted_only_orphans_are_left_alone(open_runtime, open_journal, persistent_service) -> None:
    first = open_runtime()
    first.create_mob(team())
    first.close()
    j = open_journal()
    service = persistent_service(j)
    orphan = service.create_session(CreateSessionRequest(binding=MobBinding("team", "lead", "old")))
    service.discard_live_session(orphan.id)
    open_runtime(path=j, session_service=service)
    assert not service.read(orphan.id).archived  # not live, so not reconciled
    assert orphan.id in {s.id for s in service.list_sessions()}


# -- broken members (items 37, 38, 42, 47) -------------------------------------------------------


def test_a_member_without_durable_history_is_broken_and_the_rest_resumes(runtime) -> None:  # items 37, 38, 47
    mob = runtime.create_mob(team(wiring=(("a", "b"),)))
    a = mob.spawn("a", "worker", initial_prompt="keep me")
    b = mob.spawn("b", "worker")
    mob.spawn("c", "worker")
    mob.wire("b", "c")
    mob.stop()
    runtime.service.archive(b.session_id)  # behind the mob's back
    assert runtime.service.load_persisted_session(b.session_id) is None
    mob.resume()
    assert mob.status() is MobStatus.RUNNING
    broken = mob.member("b")
    assert broken.state is MemberState.BROKEN
    assert broken.session_id == b.session_id  # still listed, with its old session
    assert "missing durable session" in broken.error and b.session_id in broken.error
    # The supervisor answers from its roster: b is still its member though its binding is archived.
    assert runtime.service.session_belongs_to_mob(b.session_id, "team")
    assert not runtime.service.binding_matches(b.session_id, "team")
    healthy = mob.member("a")
    assert healthy.state is MemberState.ACTIVE and healthy.error is None
    assert healthy.wired_to == ()  # the wire to the broken peer is not in effect
    assert mob.member("c").wired_to == ()
    assert mob.turn("a", "still fine").text == "echo: still fine"
    assert len(messages(runtime, a.session_id)) == 5
    with pytest.raises(MobError, match="restore failed"):
        mob.turn("b", "hello?")
    with pytest.raises(MobError, match="restore failed"):
        mob.wire("b", "c")
    with pytest.raises(MobError, match="restore failed"):
        mob.wire("a", "b")
    # Respawn clears the diagnostic.
    mob.retire("b")
    fresh = mob.spawn("b", "worker")
    assert fresh.state is MemberState.ACTIVE and fresh.error is None
    assert fresh.session_id != b.session_id
    assert mob.member("a").wired_to == ("b",)  # the definition's wiring applies to the respawn
    assert mob.turn("b", "back").text == "echo: back"


def test_a_member_archived_while_the_runtime_was_closed_is_broken_after_open(open_runtime) -> None:  # item 37
    first = open_runtime()
    mob = first.create_mob(team())
    a = mob.spawn("a", "worker")
    b = mob.spawn("b", "worker", initial_prompt="b's work")
    first.service.archive(a.session_id)
    first.close()
    second = open_runtime()
    reopened = second.mob("team")
    assert reopened.status() is MobStatus.RUNNING
    assert reopened.member("a").state is MemberState.BROKEN
    assert "missing durable session" in reopened.member("a").error
    assert reopened.member("b").state is MemberState.ACTIVE
    assert second.service.live_session_ids() == [b.session_id]
    assert reopened.turn("b", "go").text == "echo: go"


def inject_member(path: str, open_journal, mob_id: str, member_id: str, profile: str, session_id: str) -> None:
    """Append a member_spawned event to a mob's stream with the public journal API."""
    j = open_journal(path)
    j.append(ev.mob_stream(mob_id), [ev.MEMBER_SPAWNED(
        member_id=member_id, profile=profile, session_id=session_id, labels={}, at_ms=ev.now_ms(),
    )])
    j.close()


def test_a_member_whose_stored_binding_does_not_match_is_broken(open_runtime, open_journal, jpath) -> None:  # item 42
    first = open_runtime()
    mob = first.create_mob(team())
    mob.spawn("a", "worker")
    stray = first.service.create_session(CreateSessionRequest(binding=MobBinding("team", "lead", "someone-else")))
    first.close()
    inject_member(jpath, open_journal, "team", "impostor", "worker", stray.id)
    second = open_runtime()
    reopened = second.mob("team")
    member = reopened.member("impostor")
    assert member.state is MemberState.BROKEN
    assert "persisted binding" in member.error and "does not match" in member.error
    assert reopened.member("a").state is MemberState.ACTIVE
    assert not second.service.has_live_session(stray.id)
    with pytest.raises(MobError, match="restore failed"):
        reopened.turn("impostor", "x")


def test_a_roster_entry_pointing_at_another_mobs_session_never_gets_it(open_runtime, open_journal, jpath) -> None:  # item 42
    first = open_runtime()
    owner = first.create_mob(team("b-owner"))
    theirs = owner.spawn("m", "worker", initial_prompt="mine")
    for name in ("a-thief", "c-thief"):  # reconciled before and after the owner (id order)
        first.create_mob(team(name))
    first.mob("c-thief").stop()  # a stopped mob cancels its members' checkpointers at open
    first.close()
    for name in ("a-thief", "c-thief"):
        inject_member(jpath, open_journal, name, "m", "worker", theirs.session_id)
    second = open_runtime()
    for name in ("a-thief", "c-thief"):
        member = second.mob(name).member("m")
        assert member.state is MemberState.BROKEN, name
    with pytest.raises(MobError, match="restore failed"):
        second.mob("a-thief").turn("m", "steal")
    assert second.mob("b-owner").member("m").state is MemberState.ACTIVE
    assert second.service.checkpointer_armed(theirs.session_id)  # not cancelled by stopped c-thief
    assert second.service.session_belongs_to_mob(theirs.session_id, "b-owner")
    assert not second.service.session_belongs_to_mob(theirs.session_id, "a-thief")
    assert not second.service.session_belongs_to_mob(theirs.session_id, "c-thief")
    # Stopping a thief must not cancel the owner's checkpointer.
    second.mob("a-thief").stop()
    assert second.service.checkpointer_armed(theirs.session_id)
    second.mob("a-thief").resume()
    assert second.mob("a-thief").member("m").state is MemberState.BROKEN
    # Retiring the broken entry must not archive the owner's session.
    second.mob("a-thief").retire("m")
    second.mob("c-thief").retire("m")
    assert second.service.has_live_session(theirs.session_id)
    assert second.mob("b-owner").turn("m", "still mine").text == "echo: still mine"
    assert len(messages(second, theirs.session_id)) == 5


# -- a mob whose history has no mob_created (item 32) ---------------------------------------------


def test_a_mob_without_mob_created_cannot_be_resumed_but_others_open(open_runtime, open_journal, jpath) -> None:  # item 32
    inject_member(jpath, open_journal, "headless", "a", "worker", "01a00000-0000-7000-8000-000000000000")
    first = open_runtime()
    first.create_mob(team("fine")).spawn("x", "worker")
    first.close()
    second = open_runtime()
    with pytest.raises(MobError, match="mob_created"):
        second.mob("headless")
    with pytest.raises(MobError, match="mob_created"):
        second.create_mob(team("headless"))
    assert [m.mob_id for m in second.list_mobs()] == ["fine"]
    assert second.mob("fine").member("x").state is MemberState.ACTIVE
