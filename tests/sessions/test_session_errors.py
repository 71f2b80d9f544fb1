"""One error tree with declared ``session_id``; a paused turn's terminal is a frozen PendingToolCall."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

import mob_actors as m
from mob_actors.testing import ScriptedAgent


def test_session_id_is_a_declared_attribute_of_every_session_error():
    assert "session_id" in m.SessionError.__annotations__
    assert m.InvalidRequest("bad offset").session_id is None  # about no one session
    assert m.StoreError("write refused", session_id="s-1").session_id == "s-1"
    assert m.SessionBusy("s-2").session_id == "s-2" and m.SessionNotRunning("s-3").session_id == "s-3"
    assert m.StreamNotFound("session s-4", session_id="s-4").session_id == "s-4"
    mismatch = m.ReplayMismatch("s-5", 7, "digest", "a", "b")
    assert (mismatch.session_id, mismatch.seq) == ("s-5", 7)


def test_replay_mismatch_lives_with_the_other_errors_and_keeps_its_old_import():
    from mob_actors.core.state import ReplayMismatch

    assert ReplayMismatch is m.ReplayMismatch and m.ReplayMismatch.__module__ == "mob_actors.core.errors"
    assert issubclass(m.ReplayMismatch, m.StoreError) and issubclass(m.ReplayMismatch, m.Error)


def test_errors_raised_for_a_session_name_it(make_service):
    svc = make_service(ScriptedAgent([RuntimeError("model down"), "ok"]))
    s = svc.create_session(m.CreateSessionRequest())
    with pytest.raises(m.AgentError) as agent_failed:
        svc.start_turn(s.id, m.StartTurnRequest("hi"))
    with pytest.raises(m.InvalidRequest) as not_a_prompt:
        svc.start_turn(s.id, m.StartTurnRequest(123))  # type: ignore[arg-type]
    svc.start_turn(s.id, m.StartTurnRequest("again"))
    with pytest.raises(m.Unsupported) as refused:  # a system_prompt override after the first turn
        svc.start_turn(s.id, m.StartTurnRequest("x", system_prompt="new"))
    svc.append_system_context(s.id, "a", idempotency_key="k")
    with pytest.raises(m.Conflict) as conflict:
        svc.append_system_context(s.id, "b", idempotency_key="k")
    for error in (agent_failed, not_a_prompt, refused, conflict):
        assert error.value.session_id == s.id, error.value


def test_the_initial_prompt_names_the_session_it_created_whoever_raised(persistent):
    svc = persistent(ScriptedAgent([m.AgentError("quota exceeded"), m.CallbackPending("lookup", {"q": 1})]))
    with pytest.raises(m.AgentError) as own:  # the agent's own error, which names no session
        svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    assert svc.has_live_session(own.value.session_id) and isinstance(own.value.__cause__, m.AgentError)
    assert "quota exceeded" in str(own.value)
    with pytest.raises(m.CallbackPending) as paused:
        svc.create_session(m.CreateSessionRequest(initial_prompt="two"))
    assert svc.has_live_session(paused.value.session_id) and paused.value.tool_name == "lookup"
    paused_session = svc.read(paused.value.session_id)  # the pause is recorded with its tool call (issue 12)
    assert paused_session.messages[0] == {"role": "user", "content": "two"} and paused_session.awaiting_tool_result


def test_a_paused_turns_terminal_is_a_frozen_pending_tool_call(make_service):
    args = {"q": 1}
    svc = make_service(ScriptedAgent([m.CallbackPending("lookup", args, messages=[{"role": "assistant", "content": "hm"}])]))
    s = svc.create_session(m.CreateSessionRequest())
    out = svc.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("find"), "immediate", [])
    pending = out.terminal
    assert type(pending) is m.PendingToolCall
    assert pending == m.PendingToolCall("lookup", {"q": 1}, ({"role": "assistant", "content": "hm"},))
    with pytest.raises(dataclasses.FrozenInstanceError):
        pending.tool_name = "other"  # type: ignore[misc]
    args["q"] = 2  # the agent's dict afterwards: the record does not change
    assert pending.args == {"q": 1} and hash(pending) == hash(m.PendingToolCall("lookup"))
    assert not isinstance(pending, BaseException) and not isinstance(pending, m.Error)


def test_hosts_that_treat_the_terminal_as_a_callback_pending_keep_working(make_service):
    svc = make_service(ScriptedAgent([m.CallbackPending("lookup", {"q": 1})]))
    s = svc.create_session(m.CreateSessionRequest())
    out = svc.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("find"), "immediate", [])
    assert isinstance(out.terminal, m.CallbackPending)  # a registered virtual subclass
    assert out.terminal == m.CallbackPending("lookup", {"q": 1}) and m.CallbackPending("lookup", {"q": 1}) == out.terminal
    raised = m.CallbackPending.of(out.terminal, session_id=s.id)
    assert raised.pending == out.terminal and raised.session_id == s.id
    assert (raised.tool_name, raised.arguments, raised.tool_args, raised.messages) == ("lookup", {"q": 1}, {"q": 1}, [])
    assert raised.args == (str(raised),) and raised.call_id == out.terminal.call_id  # standard exception args (issue 12)


def test_callback_pending_pickles_with_its_session():
    e = m.CallbackPending("lookup", {"q": [1, 2]}, messages=[{"role": "assistant", "content": "x"}], session_id="s-1")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is m.CallbackPending and back.pending == e.pending and back.session_id == "s-1"


def test_an_agent_may_return_the_pause_instead_of_raising_it(ephemeral):
    svc = ephemeral(ScriptedAgent([lambda ctx: m.CallbackPending("lookup"), lambda ctx: m.PendingToolCall("other")]))
    s = svc.create_session(m.CreateSessionRequest())
    first = svc.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("a"), "immediate", [])
    svc.cancel_tool_calls(s.id)  # a new turn waits until the pause is answered or ended (issue 12)
    second = svc.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("b"), "immediate", [])
    assert first.terminal == m.PendingToolCall("lookup") and second.terminal == m.PendingToolCall("other")
