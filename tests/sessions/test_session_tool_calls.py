"""Paused turns that resume (issue 12): the pause is recorded with the assistant's tool-call message,
``submit_tool_result`` continues the same run, a repeat gives one message, unknown ids and new
turns while paused are refused, the host may cancel, and results can come through the ledger."""

from __future__ import annotations

import pytest

import mob_actors as m
from mob_actors.testing import ScriptedAgent, ToolAgent

from sessions_helpers import digest_of, event_types


def paused(svc, prompt="tool weather Paris", run_id="run-1"):
    s = svc.create_session(m.CreateSessionRequest(system_prompt="sys"))
    out = svc.apply_runtime_turn(s.id, run_id, m.StartTurnRequest(prompt), "run_start", [])
    return s.id, out


def test_pause_then_submit_continues_the_same_run(make_service):
    agent = ToolAgent()
    svc = make_service(agent)
    sid, out = paused(svc)
    p = out.terminal
    assert isinstance(p, m.PendingToolCall) and isinstance(p, m.CallbackPending) and out.run_result is None
    assert (p.tool_name, p.arguments, p.run_id) == ("weather", {"query": "Paris"}, "run-1") and p.call_ids == [p.call_id]
    s = svc.read(sid)
    call = {"id": p.call_id, "name": "weather", "arguments": {"query": "Paris"}}
    assert s.messages[-1] == {"role": "assistant", "content": "calling weather", "tool_calls": [call]}
    assert s.awaiting_tool_result and s.pending_tool_calls == [call]
    assert out.receipt.conversation_digest == digest_of(s.messages) and out.receipt.sequence == 0

    done = svc.submit_tool_result(sid, p.call_id, "sunny")
    assert done.run_result is not None and done.terminal is done.run_result and done.run_result.text == "weather said: sunny"
    assert done.receipt.run_id == "run-1" and done.receipt.boundary is m.RunApplyBoundary.RUN_START
    assert done.receipt.sequence == (1 if svc.supports_persistent_sessions() else 0)
    s = svc.read(sid)
    assert [(x["role"], x["content"]) for x in s.messages[-3:]] == [
        ("assistant", "calling weather"), ("tool", "sunny"), ("assistant", "weather said: sunny"),
    ]
    assert s.messages[-2] == {"role": "tool", "tool_call_id": p.call_id, "content": "sunny"}
    assert not s.awaiting_tool_result and s.pending_tool_calls == []
    assert done.receipt.conversation_digest == digest_of(s.messages) == digest_of(m.Session.from_bytes(done.session_snapshot).messages)
    assert agent.continuations == [[s.messages[-2]]]  # the agent saw the result in ctx.tool_results
    if isinstance(svc, m.PersistentSessionService):
        assert event_types(svc.journal, sid) == ["session_created", "turn_applied", "tool_result_submitted", "turn_applied"]
        turns = [e for e in svc.journal.read("session:" + sid) if e.type == "turn_applied"]
        assert turns[0].data["callback"] == {"tool_name": "weather", "args": {"query": "Paris"}, "calls": [call]}
        assert turns[1].data["run_id"] == "run-1" and turns[1].data["callback"] is None
        assert [x["role"] for x in turns[1].data["messages"]] == ["assistant"]  # no second user message
    assert svc.start_turn(sid, m.StartTurnRequest("next")).text == "echo: next"


def test_parallel_calls_continue_once_all_have_results(make_service):
    agent = ToolAgent()
    svc = make_service(agent)
    sid, out = paused(svc, "tools weather clock")
    a, b = out.terminal.call_ids
    part = svc.submit_tool_result(sid, b, "noon")
    assert part.run_result is None and part.terminal.call_ids == [a] and part.terminal.tool_name == "weather"
    assert agent.continuations == [] and [c["id"] for c in svc.read(sid).pending_tool_calls] == [a]
    assert part.receipt.conversation_digest == digest_of(svc.read(sid).messages)
    done = svc.submit_tool_result(sid, a, {"temp": 21, "sky": "clear"}, is_error=False)
    assert done.run_result.text == 'clock said: noon; weather said: {"sky": "clear", "temp": 21}'
    assert len(agent.continuations) == 1


def test_a_double_submit_gives_one_message_and_the_same_answer(make_service):
    svc = make_service(ToolAgent())
    sid, out = paused(svc)
    first = svc.submit_tool_result(sid, out.terminal.call_id, "sunny")
    count = len(svc.read(sid).messages)
    again = svc.submit_tool_result(sid, out.terminal.call_id, "sunny")
    assert len(svc.read(sid).messages) == count
    assert again.receipt == first.receipt and again.run_result == first.run_result
    if isinstance(svc, m.PersistentSessionService):
        assert event_types(svc.journal, sid).count("tool_result_submitted") == 1
    svc.start_turn(sid, m.StartTurnRequest("later"))
    with pytest.raises(m.InvalidRequest, match="answered before"):
        svc.submit_tool_result(sid, out.terminal.call_id, "sunny")  # its run is over and others followed
    assert len(svc.read(sid).messages) == count + 2


def test_an_unknown_call_id_is_refused_and_nothing_is_recorded(make_service):
    svc = make_service(ToolAgent())
    sid, out = paused(svc)
    before = svc.read(sid)
    for bad in ("nope", 7, None):
        with pytest.raises(m.UnknownToolCall) as ei:
            svc.submit_tool_result(sid, bad, "x")
        assert ei.value.session_id == sid and out.terminal.call_id in str(ei.value)
    with pytest.raises(m.InvalidRequest, match="JSON value"):
        svc.submit_tool_result(sid, out.terminal.call_id, object())
    with pytest.raises(m.InvalidRequest, match="parts"):
        svc.submit_tool_result(sid, out.terminal.call_id, [{"no": "type"}])
    assert svc.read(sid) == before
    other = svc.create_session(m.CreateSessionRequest(initial_prompt="hi")).id
    with pytest.raises(m.UnknownToolCall, match="no tool call is waiting"):
        svc.submit_tool_result(other, out.terminal.call_id, "x")  # a call of another session
    with pytest.raises(m.SessionNotFound):
        svc.submit_tool_result("no-such-session", "c", "x")


def test_a_new_turn_while_paused_is_refused_until_the_host_cancels(make_service):
    svc = make_service(ToolAgent())
    sid, out = paused(svc)
    with pytest.raises(m.ToolResultPending) as ei:
        svc.start_turn(sid, m.StartTurnRequest("hello?"))
    assert ei.value.call_ids == [out.terminal.call_id] and "cancel_tool_calls" in str(ei.value)
    with pytest.raises(m.ToolResultPending):
        svc.apply_runtime_turn(sid, "other-run", m.StartTurnRequest("hello?"), "immediate", [])
    s = svc.cancel_tool_calls(sid, reason="user left")
    assert s.messages[-1] == {"role": "tool", "tool_call_id": out.terminal.call_id, "content": "(not run: user left)", "is_error": True}
    assert not svc.read(sid).awaiting_tool_result
    assert svc.start_turn(sid, m.StartTurnRequest("hello?")).text == "echo: hello?"
    with pytest.raises(m.InvalidRequest, match="no paused turn"):
        svc.cancel_tool_calls(sid)
    if isinstance(svc, m.PersistentSessionService):
        assert "tool_calls_cancelled" in event_types(svc.journal, sid)


def test_callback_pending_resumes_by_its_call_id(make_service):
    pause = m.CallbackPending("lookup", {"q": 1}, messages=[{"role": "assistant", "content": "one moment"}])
    agent = ScriptedAgent([pause, lambda ctx: m.TurnOutcome([{"role": "assistant", "content": f"got {ctx.tool_results[0]['content']}"}], "got it")])
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest())
    with pytest.raises(m.CallbackPending) as ei:
        svc.start_turn(s.id, m.StartTurnRequest("find"))
    e = ei.value
    assert e.session_id == s.id and e.call_id and e.arguments == {"q": 1} and e.args == (str(e),)
    assert svc.read(s.id).messages[-1] == {
        "role": "assistant", "content": "one moment", "tool_calls": [{"id": e.call_id, "name": "lookup", "arguments": {"q": 1}}],
    }
    assert svc.submit_tool_result(s.id, e.call_id, "found", is_error=True).run_result.text == "got it"
    assert svc.read(s.id).messages[-2]["is_error"] is True


def test_a_failed_continuation_keeps_the_result_and_a_resubmit_continues(make_service):
    agent = ScriptedAgent([
        lambda ctx: m.TurnOutcome([{"role": "assistant", "content": "", "tool_calls": [{"id": "k", "name": "t", "arguments": {}}]}], ""),
        RuntimeError("model down"),
        "back",
    ])
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest())
    svc.apply_runtime_turn(s.id, "r", m.StartTurnRequest("go"), "immediate", [])
    with pytest.raises(m.AgentError, match="model down"):
        svc.submit_tool_result(s.id, "k", "v")
    assert svc.read(s.id).messages[-1] == {"role": "tool", "tool_call_id": "k", "content": "v"}  # durable before the agent ran
    with pytest.raises(m.ToolResultPending, match="did not continue"):
        svc.start_turn(s.id, m.StartTurnRequest("new"))
    out = svc.submit_tool_result(s.id, "k", "v")
    assert out.run_result.text == "back" and out.receipt.run_id == "r"
    assert [x["role"] for x in svc.read(s.id).messages] == ["user", "assistant", "tool", "assistant"]


def test_context_appended_while_paused_waits_for_the_next_user_turn(make_service):
    svc = make_service(ToolAgent())
    sid, out = paused(svc)
    assert svc.append_system_context(sid, "be quick", source="ops") == "staged"
    svc.submit_tool_result(sid, out.terminal.call_id, "rain")
    roles = [x["role"] for x in svc.read(sid).messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]  # the result follows its call
    svc.start_turn(sid, m.StartTurnRequest("more"))
    assert svc.read(sid).messages[-3:-1] == [{"role": "system", "content": "be quick", "source": "ops"}, {"role": "user", "content": "more"}]


def test_tool_results_through_the_ledger_are_consumed_exactly_once(make_service):
    svc = make_service(ToolAgent())
    sid, out = paused(svc, "tools weather clock")
    a, b = out.terminal.call_ids
    adapter = svc.runtime_adapter()
    ia = adapter.accept_tool_result(sid, a, "sunny")
    assert adapter.accept_tool_result(sid, a, "sunny again") == ia  # one result per call waits
    given = m.new_id()
    ib = adapter.accept_tool_result(sid, b, "noon", input_id=given)
    assert ib == given and adapter.accept_tool_result(sid, b, "noon", input_id=given) == given
    assert {(p.input_id, p.tool_call_id, p.state) for p in adapter.pending_inputs(sid)} == {(ia, a, "accepted"), (ib, b, "accepted")}
    with pytest.raises(m.UnknownToolCall):
        adapter.accept_tool_result(sid, "zz", "x")
    done = adapter.apply_pending(sid)
    assert done.run_result.text == "weather said: sunny; clock said: noon" and done.receipt.run_id == "run-1"
    assert adapter.pending_inputs(sid) == [] and adapter.apply_pending(sid) is None
    for input_id in (ia, ib):
        st = adapter.input_state(input_id)
        assert (st.state, st.run_id) == ("consumed", "run-1")
    tools = [x for x in svc.read(sid).messages if x["role"] == "tool"]
    assert [t["content"] for t in tools] == ["sunny", "noon"]  # once each
    with pytest.raises(m.InvalidRequest, match="already has its result"):
        adapter.accept_tool_result(sid, a, "late")


def test_paused_session_survives_a_restart_of_the_service(tmp_path):
    path = tmp_path / "j"
    with m.PersistentSessionService(path, ToolAgent(), checkpoint_every=1) as svc:
        sid, out = paused(svc)
    with m.PersistentSessionService(path, ToolAgent()) as svc:
        s = svc.create_session(m.CreateSessionRequest(session_id=sid))  # revive: from the snapshot
        assert s.awaiting_tool_result and s.pending_tool_calls[0]["id"] == out.terminal.call_id
        with pytest.raises(m.ToolResultPending):
            svc.start_turn(sid, m.StartTurnRequest("x"))
        done = svc.submit_tool_result(sid, out.terminal.call_id, "sunny")
        assert done.receipt.run_id == "run-1" and done.receipt.sequence == 1 and done.run_result.text == "weather said: sunny"
