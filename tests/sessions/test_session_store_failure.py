"""A finished turn whose journal write fails: StoreError, the live state dropped, the durable one back
(section 7 B10: a failed boundary persistence stays recoverable)."""

from __future__ import annotations

import pytest

import mob_actors as m
from mob_actors.testing import ScriptedAgent

from sessions_helpers import event_types, roles_and_contents
from support import wait_until


def reply_with(content, key="content"):
    def step(ctx):
        message = {"role": "assistant", "content": "unstorable"}
        message[key] = content
        return m.TurnOutcome([message], "unstorable")

    return step


def test_agent_output_that_is_not_json_is_refused_without_dropping_the_session(persistent, jr):
    agent = ScriptedAgent(["fine", reply_with({1, 2}), "fine again"])
    svc = persistent(agent)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    actor = svc.actor_ref(s.id)
    with pytest.raises(m.AgentError, match="cannot be encoded as JSON"):
        svc.start_turn(s.id, m.StartTurnRequest("two"))
    assert event_types(jr, s.id) == ["session_created", "turn_applied"]  # nothing recorded
    assert actor.is_alive() and svc.actor_ref(s.id) is actor  # refused, not crashed
    assert svc.start_turn(s.id, m.StartTurnRequest("three")).text == "fine again"
    assert svc.read_history(s.id).message_count == 4


def test_a_turn_that_cannot_be_stored_is_dropped_and_the_durable_state_comes_back(persistent, jr):
    content = 2**70  # JSON can hold it, msgpack cannot: journal.append raises EventRejected
    agent = ScriptedAgent(["fine", reply_with(content, key="n"), "fine again"])  # (as content it is refused at the door)
    svc = persistent(agent)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    durable = svc.read(s.id)
    old_actor = svc.actor_ref(s.id)
    stream = svc.subscribe_session_events(s.id)
    with pytest.raises(m.StoreError) as ei:
        svc.start_turn(s.id, m.StartTurnRequest("two"))
    assert ei.value.code == "SESSION_STORE_ERROR"
    assert [stream.next(2).type for _ in range(2)] == ["run_started", "run_failed"]
    wait_until(lambda: not old_actor.is_alive(), message="the failed live actor to be dropped")
    assert event_types(jr, s.id) == ["session_created", "turn_applied"]  # nothing of the failed turn
    assert svc.has_live_session(s.id)
    assert svc.read(s.id) == durable  # the previous durable state
    assert svc.read_history(s.id).message_count == 2
    assert svc.start_turn(s.id, m.StartTurnRequest("three")).text == "fine again"
    assert svc.actor_ref(s.id) is not old_actor  # rebuilt from the journal
    assert roles_and_contents(svc.read(s.id).messages) == [
        ("user", "one"), ("assistant", "fine"), ("user", "three"), ("assistant", "fine again"),
    ]
    assert svc.load_persisted_session(s.id) == svc.read(s.id)


def test_ephemeral_unstorable_turn_keeps_the_last_state(ephemeral):
    agent = ScriptedAgent(["fine", reply_with({1}), "fine again"])
    svc = ephemeral(agent)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    with pytest.raises(m.AgentError):
        svc.start_turn(s.id, m.StartTurnRequest("two"))
    assert len(svc.read(s.id).messages) == 2
    assert svc.start_turn(s.id, m.StartTurnRequest("three")).message_count == 4


def test_a_closed_journal_fails_the_turn_with_store_error(persistent, jr):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    jr.close()
    with pytest.raises(m.StoreError):
        svc.start_turn(s.id, m.StartTurnRequest("two"))
    with pytest.raises(m.StoreError):
        svc.read(s.id)  # the live state was dropped and the journal cannot rebuild it
