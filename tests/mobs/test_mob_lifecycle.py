"""Creating mobs, the roster, wiring, turns and the lifecycle (stop/resume/complete/reset/destroy).

Section 6 items covered here: 28-31 (REQ-MOB-030), 48-54 (stop, reset, retire, member
sessions, labels) and 58 (checkpointers after stop and a failed resume).
"""

from __future__ import annotations

import threading
import time

import pykka
import pytest

import journal
from mob_actors import (
    AgentError,
    CreateSessionRequest,
    InvalidTransition,
    MemberState,
    MobBinding,
    MobDefinition,
    MobError,
    MobRuntime,
    MobStatus,
    PersistentSessionService,
    Profile,
    SessionError,
    SessionNotFound,
    StartTurnRequest,
    StoreError,
    TurnOutcome,
)
from mob_actors.core import events as ev
from mob_actors.core.mob import fold_mob
from mob_actors.mobs.supervisor import PERSISTENT_CONTRACT
from mob_actors.testing import EchoAgent, ScriptedAgent

from mob_helpers import messages, team


def member_ids(mob) -> list[str]:
    return [m.member_id for m in mob.members()]


def live_ids(runtime) -> set[str]:
    return set(runtime.service.live_session_ids())


def listed_ids(runtime) -> set[str]:
    return {s.id for s in runtime.service.list_sessions()}


# -- create and the persistent-session contract (items 28-31) ----------------------------------


def test_create_rejects_an_ephemeral_service_naming_the_contract(open_runtime, ephemeral_service) -> None:  # item 28
    runtime = open_runtime(session_service=ephemeral_service())
    with pytest.raises(MobError, match="persistent-session contract \\(REQ-MOB-030\\)"):
        runtime.create_mob(team())
    assert runtime.list_mobs() == []
    assert list(runtime.journal.streams(ev.MOB_STREAM_PREFIX)) == []  # nothing was recorded


def test_create_allows_an_ephemeral_service_when_opted_in(open_runtime, ephemeral_service) -> None:  # item 29
    runtime = open_runtime(session_service=ephemeral_service(), allow_ephemeral_sessions=True)
    mob = runtime.create_mob(team())
    assert mob.status() is MobStatus.RUNNING
    mob.spawn("a", "worker")
    assert mob.turn("a", "hi").text == "echo: hi"


def test_create_and_spawn_over_the_persistent_service(runtime) -> None:  # item 30
    assert runtime.service.supports_persistent_sessions()
    mob = runtime.create_mob(team())
    assert mob.status() is MobStatus.RUNNING and mob.members() == []
    member = mob.spawn("a", "worker")
    assert runtime.service.load_persisted_session(member.session_id) is not None
    stored = [e.type for e in runtime.journal.read("mob:team")]
    assert stored == ["mob_created", "member_spawned"]


def test_resume_enforces_the_contract_unless_opted_in(open_runtime, ephemeral_service) -> None:  # item 31
    runtime = open_runtime(session_service=ephemeral_service(), allow_ephemeral_sessions=True)
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker")
    mob.stop()
    runtime.allow_ephemeral_sessions = False
    with pytest.raises(MobError, match=PERSISTENT_CONTRACT.replace("(", "\\(").replace(")", "\\)")):
        mob.resume()
    assert mob.status() is MobStatus.STOPPED
    runtime.allow_ephemeral_sessions = True
    mob.resume()
    assert mob.status() is MobStatus.RUNNING


def test_open_with_existing_mobs_enforces_the_contract(open_runtime, ephemeral_service, jpath) -> None:  # item 31
    first = open_runtime()
    first.create_mob(team())
    first.close()
    with pytest.raises(MobError, match="REQ-MOB-030"):
        open_runtime(session_service=ephemeral_service())
    opted = open_runtime(session_service=ephemeral_service(), allow_ephemeral_sessions=True)
    assert [m.mob_id for m in opted.list_mobs()] == ["team"]


def test_creating_an_existing_mob_again_is_refused(runtime) -> None:
    runtime.create_mob(team())
    with pytest.raises(MobError, match="already exists"):
        runtime.create_mob(team())
    assert [e.type for e in runtime.journal.read("mob:team")] == ["mob_created"]


def test_mob_lookup_and_listing(runtime) -> None:
    b = runtime.create_mob(team("b"))
    a = runtime.create_mob(team("a"))
    assert [m.mob_id for m in runtime.list_mobs()] == ["a", "b"]
    assert runtime.mob("a") is a and runtime.mob("b") is b
    with pytest.raises(MobError, match="no mob 'c'"):
        runtime.mob("c")
    runtime.close()
    with pytest.raises(MobError, match="closed"):
        runtime.mob("a")
    with pytest.raises(MobError):
        a.status()  # its supervisor was stopped with the runtime


# -- spawn, retire, wiring, turns --------------------------------------------------------------


def test_spawn_binds_a_session_with_profile_prompt_metadata_and_standard_labels(runtime) -> None:  # item 54
    mob = runtime.create_mob(team())
    member = mob.spawn("w1", "worker", labels={"team": "blue", "mob_id": "spoofed", "role": "x", "member_id": "y"})
    session = runtime.service.read(member.session_id)
    assert session.messages == [{"role": "system", "content": "You work."}]
    assert session.metadata == {"model": "m-worker"}
    # The standard labels override the host's; the host's others stay.
    assert session.labels == {"team": "blue", "mob_id": "team", "role": "worker", "member_id": "w1"}
    assert session.binding == MobBinding("team", "worker", "w1")
    assert member.labels == session.labels
    assert (member.member_id, member.profile, member.state, member.error) == ("w1", "worker", MemberState.ACTIVE, None)


def test_spawn_with_an_initial_prompt_runs_it_as_the_first_turn(runtime) -> None:
    mob = runtime.create_mob(team())
    member = mob.spawn("a", "lead", initial_prompt="plan it")
    assert messages(runtime, member.session_id)[1:] == [
        {"role": "user", "content": "plan it"}, {"role": "assistant", "content": "echo: plan it"},
    ]


@pytest.mark.parametrize(
    ("member_id", "profile", "match"),
    [("a", "nobody", "no profile 'nobody'"), ("", "worker", "non-empty"), ("x/y", "worker", "without '/'")],
)
def test_spawn_validation_records_nothing(runtime, member_id, profile, match) -> None:
    mob = runtime.create_mob(team())
    with pytest.raises(MobError, match=match):
        mob.spawn(member_id, profile)
    assert mob.members() == [] and runtime.service.live_session_ids() == []
    assert [e.type for e in mob.events()] == ["mob_created"]


def test_spawning_a_member_id_twice_is_refused(runtime) -> None:
    mob = runtime.create_mob(team())
    first = mob.spawn("a", "worker")
    with pytest.raises(MobError, match="already has a member 'a'"):
        mob.spawn("a", "lead")
    assert [m.session_id for m in mob.members()] == [first.session_id]
    assert live_ids(runtime) == {first.session_id}


def test_a_failed_spawn_record_leaves_no_orphan_session(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    # Someone else wrote to the mob's stream: the supervisor's expected seq no longer holds.
    runtime.journal.append("mob:team", [ev.MOB_STOPPED(at_ms=1)])
    with pytest.raises(MobError, match="nothing changed"):
        mob.spawn("b", "worker")
    assert member_ids(mob) == ["a"]
    assert live_ids(runtime) == {a.session_id}  # b's session was archived again
    assert all(s.labels.get("member_id") != "b" for s in runtime.service.list_sessions())


def test_definition_wiring_is_applied_as_members_spawn_in_any_order(runtime) -> None:  # item 33 (live)
    mob = runtime.create_mob(team(wiring=(("lead", "w1"), ("w2", "lead"))))
    mob.spawn("w1", "worker")
    assert mob.member("w1").wired_to == ()  # its peer is not there yet
    mob.spawn("lead", "lead")
    mob.spawn("w2", "worker")
    assert mob.member("lead").wired_to == ("w1", "w2")
    assert mob.member("w1").wired_to == ("lead",)
    assert mob.member("w2").wired_to == ("lead",)
    assert [(e.type, e.data.get("a"), e.data.get("b")) for e in mob.events() if e.type == "peers_wired"] == [
        ("peers_wired", "lead", "w1"), ("peers_wired", "w2", "lead"),
    ]


def test_wire_and_unwire_are_symmetric_and_idempotent(runtime) -> None:
    mob = runtime.create_mob(team())
    for m in "abc":
        mob.spawn(m, "worker")
    mob.wire("a", "b")
    mob.wire("b", "a")  # already wired: nothing new recorded
    mob.wire("c", "a")
    assert mob.member("a").wired_to == ("b", "c")
    assert mob.member("b").wired_to == ("a",)
    mob.unwire("b", "a")
    mob.unwire("a", "b")
    assert mob.member("a").wired_to == ("c",) and mob.member("b").wired_to == ()
    assert [e.type for e in mob.events()].count("peers_wired") == 2
    assert [e.type for e in mob.events()].count("peers_unwired") == 1


def test_wire_validation(runtime) -> None:
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker")
    with pytest.raises(MobError, match="itself"):
        mob.wire("a", "a")
    with pytest.raises(MobError, match="no member 'zz'"):
        mob.wire("a", "zz")
    with pytest.raises(MobError, match="no member 'zz'"):
        mob.unwire("zz", "a")


def test_retire_archives_the_session_removes_wires_and_is_idempotent(runtime) -> None:
    mob = runtime.create_mob(team(wiring=(("a", "b"),)))
    a = mob.spawn("a", "worker", initial_prompt="hello")
    mob.spawn("b", "worker")
    mob.retire("a")
    assert member_ids(mob) == ["b"] and mob.member("b").wired_to == ()
    assert a.session_id not in live_ids(runtime) and a.session_id not in listed_ids(runtime)
    assert runtime.service.read(a.session_id).archived  # history kept
    assert [m["content"] for m in messages(runtime, a.session_id)][1:] == ["hello", "echo: hello"]
    mob.retire("a")  # idempotent
    mob.retire("never-was")
    assert [e.type for e in mob.events()].count("member_retired") == 1
    with pytest.raises(MobError, match="no member 'a'"):
        mob.turn("a", "still there?")


def test_retire_returns_the_archive_failure_and_still_removes_the_member(runtime) -> None:  # item 51
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    # Write to the member's session stream behind its actor's back: its next append (the
    # archive) fails its expected-seq check for real.
    runtime.journal.append(ev.session_stream(a.session_id), [ev.DISCARDED(at_ms=1)])
    with pytest.raises(StoreError):
        mob.retire("a")
    assert mob.members() == []  # roster removal is unconditional
    assert [e.type for e in mob.events()][-1] == "member_retired"
    mob.spawn("a", "worker")  # not blocked by the failed cleanup
    assert mob.member("a").session_id != a.session_id


def test_turn_runs_on_the_member_session_and_is_durable(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    b = mob.spawn("b", "worker")
    result = mob.turn("a", "ping")
    assert result.text == "echo: ping" and result.message_count == 3
    stored = runtime.service.load_persisted_session(a.session_id)
    assert stored.messages[-2:] == [{"role": "user", "content": "ping"}, {"role": "assistant", "content": "echo: ping"}]
    assert len(messages(runtime, b.session_id)) == 1  # the other member saw nothing
    with pytest.raises(MobError, match="no member 'zz'"):
        mob.turn("zz", "x")


def test_a_long_turn_does_not_block_the_mob(open_runtime) -> None:
    agent = ScriptedAgent(default="done")
    runtime = open_runtime(agent)
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker")
    agent.hold.clear()
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", mob.turn("a", "slow")))
    t.start()
    assert agent.entered.wait(5)
    mob.spawn("b", "worker")  # the supervisor is free while a turn runs
    assert member_ids(mob) == ["a", "b"]
    agent.hold.set()
    t.join(5)
    assert result["r"].text == "done"


def test_member_session_event_stream_is_available_and_yields_run_events(runtime) -> None:  # item 52
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    stream = runtime.service.subscribe_session_events(a.session_id)
    try:
        mob.turn("a", "go")
        types = []
        while "run_completed" not in types:
            envelope = stream.next(timeout=5)
            types.append(envelope.type)
            assert envelope.mob_id == "team"
        assert types[0] == "run_started"
    finally:
        stream.close()


def test_an_idle_live_member_stays_active(runtime) -> None:  # item 53
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker", initial_prompt="one turn and then idle")
    member = mob.member("a")
    assert member.state is MemberState.ACTIVE and member.error is None
    assert runtime.service.has_live_session(member.session_id)


def test_session_belongs_to_mob_is_answered_from_roster_and_binding(runtime) -> None:
    one = runtime.create_mob(team("one"))
    two = runtime.create_mob(team("two"))
    a = one.spawn("a", "worker")
    b = two.spawn("b", "worker")
    svc = runtime.service
    stray = svc.create_session(CreateSessionRequest())
    bound_only = svc.create_session(CreateSessionRequest(binding=MobBinding("one", "worker", "ghost")))
    assert svc.session_belongs_to_mob(a.session_id, "one")
    assert not svc.session_belongs_to_mob(a.session_id, "two")
    assert svc.session_belongs_to_mob(b.session_id, "two")
    assert not svc.session_belongs_to_mob(stray.id, "one")
    assert svc.session_belongs_to_mob(bound_only.id, "one")  # by its durable binding
    assert not svc.session_belongs_to_mob("no-such-session", "one")
    one.retire("a")
    assert not svc.session_belongs_to_mob(a.session_id, "one")  # archived, off the roster
    svc.archive(stray.id)
    svc.archive(bound_only.id)


# -- stop and resume (items 48, 58) ------------------------------------------------------------


def test_stop_keeps_sessions_live_cancels_checkpointers_and_refuses_mutations(runtime) -> None:  # items 48, 58
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker", initial_prompt="x")
    b = mob.spawn("b", "worker")
    before_events = [e.type for e in mob.events()]
    sessions = {a.session_id, b.session_id}
    assert all(runtime.service.checkpointer_armed(s) for s in sessions)
    mob.stop()
    assert mob.status() is MobStatus.STOPPED
    assert live_ids(runtime) == sessions and listed_ids(runtime) == sessions  # nothing archived
    assert [e.type for e in mob.events()] == [*before_events, "mob_stopped"]  # nothing deleted
    for s in sessions:
        assert not runtime.service.checkpointer_armed(s)
        assert runtime.service.checkpoint(s) is False
    for op, args in [("spawn", ("c", "worker")), ("wire", ("a", "b")), ("unwire", ("a", "b")), ("turn", ("a", "hi"))]:
        with pytest.raises(InvalidTransition) as info:
            getattr(mob, op)(*args)
        assert info.value.from_state is MobStatus.STOPPED
    assert len(messages(runtime, a.session_id)) == 3  # the refused turn did not run


def test_stop_interrupts_a_running_turn(open_runtime) -> None:
    agent = ScriptedAgent(default="never")
    runtime = open_runtime(agent)
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    agent.hold.clear()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = mob.turn("a", "long job")
        except Exception as e:
            outcome["error"] = e

    t = threading.Thread(target=run)
    t.start()
    assert agent.entered.wait(5)
    mob.stop()
    t.join(5)
    assert not t.is_alive()
    assert isinstance(outcome.get("error"), AgentError) and "interrupted" in str(outcome["error"])
    assert messages(runtime, a.session_id) == [{"role": "system", "content": "You work."}]  # nothing recorded
    assert runtime.service.has_live_session(a.session_id)


def test_stop_only_affects_this_mobs_sessions(runtime) -> None:
    one = runtime.create_mob(team("one"))
    two = runtime.create_mob(team("two"))
    a = one.spawn("a", "worker", initial_prompt="x")
    b = two.spawn("b", "worker", initial_prompt="y")
    one.stop()
    assert not runtime.service.checkpointer_armed(a.session_id)
    assert runtime.service.checkpointer_armed(b.session_id)
    assert runtime.service.checkpoint(b.session_id) is True
    assert two.status() is MobStatus.RUNNING
    assert two.turn("b", "still going").text == "echo: still going"


def test_a_stop_whose_record_fails_rearms_checkpointers_and_stays_running(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    b = mob.spawn("b", "worker")
    runtime.journal.close()
    with pytest.raises(MobError, match="mob_stopped"):
        mob.stop()
    assert mob.status() is MobStatus.RUNNING
    assert runtime.service.checkpointer_armed(a.session_id)
    assert runtime.service.checkpointer_armed(b.session_id)


def test_resume_rearms_checkpointers_and_allows_mutations_again(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker", initial_prompt="x")
    mob.stop()
    mob.resume()
    assert mob.status() is MobStatus.RUNNING
    assert runtime.service.checkpointer_armed(a.session_id)
    assert runtime.service.checkpoint(a.session_id) is True
    mob.spawn("b", "worker")
    assert mob.turn("a", "again").text == "echo: again"
    assert [e.type for e in mob.events()][-3:-1] == ["mob_stopped", "mob_resumed"]


@pytest.mark.parametrize(("op", "from_status", "to_status"), [
    ("resume", MobStatus.RUNNING, MobStatus.RUNNING),
    ("stop", MobStatus.STOPPED, MobStatus.STOPPED),
])
def test_stop_and_resume_refuse_the_wrong_state(runtime, op, from_status, to_status) -> None:
    mob = runtime.create_mob(team())
    if from_status is MobStatus.STOPPED:
        mob.stop()
    with pytest.raises(InvalidTransition) as info:
        getattr(mob, op)()
    assert (info.value.from_state, info.value.to_state) == (from_status, to_status)
    assert mob.status() is from_status


def test_a_resume_whose_record_fails_leaves_checkpointers_cancelled(runtime) -> None:  # item 58
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    b = mob.spawn("b", "worker")
    mob.stop()
    runtime.journal.close()
    with pytest.raises(MobError, match="mob_resumed"):
        mob.resume()
    assert mob.status() is MobStatus.STOPPED
    assert not runtime.service.checkpointer_armed(a.session_id)
    assert not runtime.service.checkpointer_armed(b.session_id)


def test_a_resume_whose_reconcile_fails_leaves_checkpointers_cancelled(runtime) -> None:  # items 58, B6
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    orphan = runtime.service.create_session(CreateSessionRequest(binding=MobBinding("team", "worker", "ghost")))
    mob.stop()
    # The orphan's archive will fail for real (its stream moved on behind its actor's back):
    # any archive error other than not-found aborts the resume.
    runtime.journal.append(ev.session_stream(orphan.id), [ev.DISCARDED(at_ms=1)])
    with pytest.raises(SessionError):
        mob.resume()
    assert mob.status() is MobStatus.STOPPED
    assert not runtime.service.checkpointer_armed(a.session_id)


def test_resume_with_the_contract_failing_leaves_checkpointers_cancelled(open_runtime, ephemeral_service) -> None:
    runtime = open_runtime(session_service=ephemeral_service(), allow_ephemeral_sessions=True)
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    mob.stop()
    runtime.allow_ephemeral_sessions = False
    with pytest.raises(MobError, match="REQ-MOB-030"):
        mob.resume()
    assert not runtime.service.checkpointer_armed(a.session_id)


def test_retire_is_allowed_while_stopped(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    mob.stop()
    mob.retire("a")
    assert mob.members() == [] and a.session_id not in live_ids(runtime)
    assert mob.status() is MobStatus.STOPPED


# -- complete, reset, destroy (items 49, 50) ---------------------------------------------------


def test_complete_retires_every_member_and_leaves_other_mobs_alone(runtime) -> None:
    mob = runtime.create_mob(team())
    other = runtime.create_mob(team("other"))
    a = mob.spawn("a", "worker", initial_prompt="work")
    b = mob.spawn("b", "lead")
    o = other.spawn("o", "worker")
    mob.complete()
    assert mob.status() is MobStatus.COMPLETED and mob.members() == []
    assert listed_ids(runtime) == {o.session_id} and live_ids(runtime) == {o.session_id}
    assert [m["content"] for m in messages(runtime, a.session_id)] == ["You work.", "work", "echo: work"]
    assert runtime.service.read(b.session_id).archived
    assert [e.type for e in mob.events()][-3:] == ["member_retired", "member_retired", "mob_completed"]
    assert other.status() is MobStatus.RUNNING and member_ids(other) == ["o"]
    for op, args in [("spawn", ("c", "worker")), ("stop", ()), ("resume", ()), ("complete", ())]:
        with pytest.raises(InvalidTransition):
            getattr(mob, op)(*args)


def test_complete_from_stopped(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    mob.stop()
    mob.complete()
    assert mob.status() is MobStatus.COMPLETED
    assert a.session_id not in listed_ids(runtime)


@pytest.mark.parametrize("before", ["running", "stopped", "completed"])
def test_reset_starts_a_new_epoch_in_one_atomic_write(runtime, before) -> None:  # item 49
    mob = runtime.create_mob(team(wiring=(("a", "b"),)))
    a = mob.spawn("a", "worker")
    b = mob.spawn("b", "worker")
    if before == "stopped":
        mob.stop()
    elif before == "completed":
        mob.complete()
    mob.reset()
    assert mob.status() is MobStatus.RUNNING and mob.members() == []
    assert not live_ids(runtime) & {a.session_id, b.session_id}
    assert not listed_ids(runtime) & {a.session_id, b.session_id}
    stored = list(mob.events())
    created, reset = stored[-2:]
    assert (created.type, reset.type) == ("mob_created", "mob_reset")
    assert reset.seq == created.seq + 1 and reset.position == created.position + 1
    assert created.data["definition"] == team(wiring=(("a", "b"),)).to_dict()
    assert fold_mob("team", stored).epoch == 1
    mob.spawn("a", "worker")  # the new epoch takes members again, wired by the definition
    mob.spawn("b", "worker")
    assert mob.member("a").wired_to == ("b",)


def test_reset_of_an_empty_mob_is_exactly_one_commit(runtime) -> None:
    mob = runtime.create_mob(team())
    commits = runtime.journal.commits
    head = runtime.journal.head()
    mob.reset()
    assert runtime.journal.commits == commits + 1
    assert [(e.position, e.type) for e in runtime.journal.read_all(after=head)] == [
        (head + 1, "mob_created"), (head + 2, "mob_reset"),
    ]


def test_a_failed_reset_record_leaves_the_mob_stopped_with_its_definition(runtime) -> None:  # item 50
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    mob.retire("a")  # the destructive steps that can succeed are done; now the record fails
    runtime.journal.close()
    with pytest.raises(MobError, match="mob_created"):
        mob.reset()
    assert mob.status() is MobStatus.STOPPED
    assert mob.definition() == team()
    assert a.session_id not in live_ids(runtime)


def test_a_failed_reset_from_stopped_stays_stopped(runtime) -> None:  # item 50
    mob = runtime.create_mob(team())
    mob.stop()
    runtime.journal.close()
    with pytest.raises(MobError):
        mob.reset()
    assert mob.status() is MobStatus.STOPPED


def test_destroy_deletes_the_mobs_events_and_leaves_other_mobs_alone(open_runtime) -> None:  # item 49
    runtime = open_runtime()
    mob = runtime.create_mob(team())
    other = runtime.create_mob(team("other"))
    a = mob.spawn("a", "worker", initial_prompt="hi")
    o = other.spawn("o", "worker", initial_prompt="yo")
    mob.destroy()
    assert mob.events() == []
    assert list(runtime.journal.read("mob:team")) == []
    assert a.session_id not in listed_ids(runtime) and a.session_id not in live_ids(runtime)
    assert runtime.service.read(a.session_id).archived  # the member's history is kept
    with pytest.raises(MobError, match="no mob 'team'"):
        runtime.mob("team")
    assert [m.mob_id for m in runtime.list_mobs()] == ["other"]
    assert mob.status() is MobStatus.DESTROYED  # the contract lists that status (issue 14 item 17)
    for op in ("reset", "destroy", "stop"):
        with pytest.raises(MobError, match="was destroyed; create it again"):
            getattr(mob, op)()
    assert not runtime.service.session_belongs_to_mob(a.session_id, "team")
    assert [e.type for e in other.events()] == ["mob_created", "member_spawned"]
    assert other.turn("o", "more").text == "echo: more"
    runtime.close()
    reopened = open_runtime()
    assert [m.mob_id for m in reopened.list_mobs()] == ["other"]
    assert reopened.mob("other").member("o").session_id == o.session_id
    with pytest.raises(MobError):
        reopened.mob("team")
    again = reopened.create_mob(team())  # the id can be used again
    assert again.members() == [] and [e.type for e in again.events()] == ["mob_created"]


def test_destroy_works_from_stopped_and_completed(runtime) -> None:
    stopped = runtime.create_mob(team("s"))
    stopped.spawn("a", "worker")
    stopped.stop()
    stopped.destroy()
    done = runtime.create_mob(team("c"))
    done.complete()
    done.destroy()
    assert runtime.list_mobs() == [] and runtime.service.live_session_ids() == []


def test_mob_events_are_on_their_own_stream(runtime) -> None:
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker")
    mob.spawn("b", "worker")
    mob.wire("a", "b")
    mob.stop()
    mob.resume()
    recorded = list(runtime.journal.read("mob:team"))
    assert [e.stream_id for e in recorded] == ["mob:team"] * 6
    assert [e.seq for e in recorded] == [1, 2, 3, 4, 5, 6]
    assert [e.type for e in recorded] == ["mob_created", "member_spawned", "member_spawned", "peers_wired", "mob_stopped", "mob_resumed"]
    assert mob.events() == recorded
    assert {i.stream_id for i in runtime.journal.streams("mob:")} == {"mob:team"}


def test_operations_on_a_closed_journal_fail_cleanly(runtime) -> None:
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker")
    mob.spawn("b", "worker")
    runtime.journal.close()
    with pytest.raises(MobError, match="nothing changed"):
        mob.wire("a", "b")
    assert mob.member("a").wired_to == ()
    with pytest.raises(StoreError):  # the member's session cannot be created
        mob.spawn("c", "worker")
    assert member_ids(mob) == ["a", "b"]
    assert len(runtime.service.live_session_ids()) == 2
    with pytest.raises(journal.JournalClosed):
        runtime.journal.append("x", [journal.Event("t", {})])


def test_session_errors_stay_distinct_from_mob_errors() -> None:
    assert issubclass(InvalidTransition, MobError)
    assert not issubclass(SessionNotFound, MobError)
    e = InvalidTransition(MobStatus.COMPLETED, MobStatus.RUNNING, "why")
    assert (e.from_state, e.to_state) == (MobStatus.COMPLETED, MobStatus.RUNNING)
    assert "COMPLETED -> RUNNING: why" in str(e)


def test_profiles_with_metadata_none_come_back_equal(open_runtime) -> None:
    definition = MobDefinition("plain", {"p": Profile("p")})
    runtime = open_runtime()
    runtime.create_mob(definition)
    runtime.close()
    assert open_runtime().mob("plain").definition() == definition



def test_runtime_is_a_context_manager_that_stops_every_actor(jpath) -> None:
    with MobRuntime.open(jpath, EchoAgent()) as runtime:
        mob = runtime.create_mob(team())
        mob.spawn("a", "worker", initial_prompt="x")
        assert len(pykka.ActorRegistry.get_all()) == 2  # the supervisor and the member's session
    assert [r for r in pykka.ActorRegistry.get_all() if r.is_alive()] == []
    assert runtime.journal.closed  # it opened the journal, so it closed it
    with pytest.raises(MobError):
        mob.spawn("b", "worker")
    with pytest.raises(MobError, match="closed"):
        runtime.create_mob(team("other"))


def test_close_leaves_a_passed_in_journal_and_service_open(open_runtime, open_journal, persistent_service) -> None:
    j = open_journal()
    service = persistent_service(j)
    runtime = open_runtime(path=j, session_service=service)
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    assert service.session_belongs_to_mob(a.session_id, "team")
    runtime.close()
    assert not j.closed
    assert service.start_turn(a.session_id, StartTurnRequest("direct")).text == "echo: direct"
    # With the supervisor gone the durable binding answers.
    assert service.session_belongs_to_mob(a.session_id, "team")
    assert not service.session_belongs_to_mob(a.session_id, "other")


def test_stop_returns_only_after_admitted_turns_have_ended(open_runtime) -> None:
    """No member turn may still be running (and commit) after stop() returned."""
    finished = threading.Event()

    def slow_and_deaf(ctx):  # ignores the interrupt for a while, like a model call in flight
        time.sleep(0.3)
        finished.set()
        return TurnOutcome([{"role": "assistant", "content": "late"}], "late")

    agent = ScriptedAgent([slow_and_deaf])
    runtime = open_runtime(agent)
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    errors: list[Exception] = []
    t = threading.Thread(target=lambda: _capture(errors, mob.turn, "a", "long job"))
    t.start()
    assert agent.entered.wait(5)
    mob.stop()
    assert finished.is_set(), "stop() returned while an admitted turn was still running"
    t.join(5)
    assert len(errors) == 1 and isinstance(errors[0], AgentError)  # interrupted: not recorded
    assert messages(runtime, a.session_id) == [{"role": "system", "content": "You work."}]
    assert mob.events()[-1].type == "mob_stopped"


def _capture(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except Exception as e:
        errors.append(e)


def test_open_with_a_persistent_service_on_the_same_path_shares_its_journal(opened, jpath) -> None:
    """A host that made its own service on the directory can name the directory again."""
    service = opened.add(PersistentSessionService(jpath, EchoAgent()))
    runtime = opened.add(MobRuntime.open(jpath, EchoAgent(), session_service=service))
    assert runtime.journal is service.journal  # not a second writer (that would be JournalLocked)
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker", initial_prompt="hi")
    assert [e.type for e in mob.events()] == ["mob_created", "member_spawned"]
