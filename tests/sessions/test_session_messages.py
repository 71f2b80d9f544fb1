"""The message shape (issue 12): every field checked, a bad agent message refused naming the field
with nothing recorded; what ``ctx`` holds; agents checked when a service is built."""

from __future__ import annotations

import pytest

import mob_actors as m
from mob_actors.core.messages import MessageShapeError, check_message, check_messages, open_tool_calls, unanswered_calls
from mob_actors.testing import EchoAgent, ScriptedAgent

from sessions_helpers import event_types

CALL = {"id": "c1", "name": "lookup", "arguments": {"q": "x"}}

GOOD = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hi", "name": "ann"},
    {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:,"}}]},
    {"role": "assistant", "content": "ok", "extra": {"kept": True}},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "assistant", "content": "", "tool_calls": [CALL, {"id": "c2", "name": "other", "arguments": {}, "type": "function"}]},
    {"role": "tool", "content": "42", "tool_call_id": "c1"},
    {"role": "tool", "content": [{"type": "text", "text": "42"}], "tool_call_id": "c1", "is_error": True},
]

BAD = [  # (message, the field the error must name)
    ("not a dict", "m"),
    ({1: "x", "role": "user", "content": ""}, "m key 1"),
    ({"content": "x"}, "m.role"),
    ({"role": "robot", "content": "x"}, "m.role"),
    ({"role": "user"}, "m.content"),
    ({"role": "user", "content": 3}, "m.content"),
    ({"role": "user", "content": None}, "m.content"),
    ({"role": "user", "content": ["text"]}, "m.content[0]"),
    ({"role": "user", "content": [{"text": "x"}]}, "m.content[0].type"),
    ({"role": "user", "content": [{"type": ""}]}, "m.content[0].type"),
    ({"role": "user", "content": [{"type": "text", "text": 1}]}, "m.content[0].text"),
    ({"role": "user", "content": "x", "name": 5}, "m.name"),
    ({"role": "user", "content": "x", "tool_calls": [CALL]}, "m.tool_calls"),
    ({"role": "assistant", "content": "x", "tool_calls": []}, "m.tool_calls"),
    ({"role": "assistant", "content": "x", "tool_calls": {"id": "c1"}}, "m.tool_calls"),
    ({"role": "assistant", "content": "x", "tool_calls": ["c1"]}, "m.tool_calls[0]"),
    ({"role": "assistant", "content": "x", "tool_calls": [{**CALL, "id": ""}]}, "m.tool_calls[0].id"),
    ({"role": "assistant", "content": "x", "tool_calls": [{**CALL, "id": 7}]}, "m.tool_calls[0].id"),
    ({"role": "assistant", "content": "x", "tool_calls": [{**CALL, "name": None}]}, "m.tool_calls[0].name"),
    ({"role": "assistant", "content": "x", "tool_calls": [{"id": "c1", "name": "n", "args": {}}]}, "m.tool_calls[0].arguments"),
    ({"role": "assistant", "content": "x", "tool_calls": [{**CALL, "arguments": '{"q": 1}'}]}, "m.tool_calls[0].arguments"),
    ({"role": "assistant", "content": "x", "tool_calls": [{**CALL, "extra": 1}]}, "m.tool_calls[0]"),
    ({"role": "assistant", "content": "x", "tool_calls": [CALL, CALL]}, "m.tool_calls[1].id"),
    ({"role": "tool", "content": "x"}, "m.tool_call_id"),
    ({"role": "tool", "content": "x", "tool_call_id": ""}, "m.tool_call_id"),
    ({"role": "user", "content": "x", "tool_call_id": "c1"}, "m.tool_call_id"),
]


@pytest.mark.parametrize("message", GOOD)
def test_good_messages_pass(message):
    check_message(message)


@pytest.mark.parametrize(("message", "field"), BAD)
def test_every_field_is_checked_and_named(message, field):
    with pytest.raises(MessageShapeError) as ei:
        check_message(message, "m")
    assert ei.value.field == field and str(ei.value).startswith(field)


def test_lists_and_the_order_of_calls_and_results():
    with pytest.raises(MessageShapeError, match="must be a list"):
        check_messages({"role": "user", "content": "x"})
    call = {"role": "assistant", "content": "", "tool_calls": [CALL]}
    answer = {"role": "tool", "content": "42", "tool_call_id": "c1"}
    assert open_tool_calls([call, answer, {"role": "assistant", "content": "done"}]) == []
    assert open_tool_calls([call]) == [CALL]  # left open: the turn pauses on it
    with pytest.raises(MessageShapeError) as ei:
        open_tool_calls([call, {"role": "assistant", "content": "too soon"}])
    assert ei.value.field == "messages[1]" and "c1" in str(ei.value)
    with pytest.raises(MessageShapeError) as ei:
        open_tool_calls([{"role": "tool", "content": "?", "tool_call_id": "zz"}])
    assert ei.value.field == "messages[0].tool_call_id"
    with pytest.raises(MessageShapeError) as ei:
        open_tool_calls([call, answer, call])
    assert ei.value.field == "messages[2].tool_calls[0].id"
    assert unanswered_calls([call]) == [CALL] and unanswered_calls([call, answer]) == [] and unanswered_calls([]) == []


def replying(messages, text="t"):
    return lambda ctx: m.TurnOutcome(messages, text)


@pytest.mark.parametrize(("returned", "field"), [
    ([{"role": "assistant"}], "messages[0].content"),
    ([{"role": "bot", "content": "x"}], "messages[0].role"),
    ([{"role": "assistant", "content": "x"}, {"role": "tool", "content": "x", "tool_call_id": "nope"}], "messages[1].tool_call_id"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "c", "name": "n"}]}], "messages[0].tool_calls[0].arguments"),
    ("just text", "TurnOutcome.messages"),  # refused by the outcome's value checks (core/requests.py) first
])
def test_a_bad_agent_message_is_refused_naming_the_field_and_nothing_is_recorded(make_service, returned, field):
    svc = make_service(ScriptedAgent(["one", replying(returned), "fine"]))
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    before = svc.read(s.id)
    with pytest.raises(m.AgentError) as ei:
        svc.start_turn(s.id, m.StartTurnRequest("two"))
    assert field in str(ei.value)
    assert ei.value.field == field if isinstance(ei.value, m.InvalidAgentMessage) else field == "TurnOutcome.messages"
    assert "nothing was recorded" in str(ei.value) and ei.value.session_id == s.id
    assert svc.read(s.id) == before
    if isinstance(svc, m.PersistentSessionService):
        assert event_types(svc.journal, s.id) == ["session_created", "turn_applied"]
    assert svc.start_turn(s.id, m.StartTurnRequest("three")).text == "fine"  # the session carries on


def test_ctx_messages_are_the_history_plus_this_turns_user_message(make_service):
    seen = []

    def look(ctx):
        seen.append((list(ctx.messages), list(ctx.session.messages), ctx.run_id, ctx.tool_results))
        return m.TurnOutcome([{"role": "assistant", "content": "a"}], "a")

    svc = make_service(ScriptedAgent(default=look))
    s = svc.create_session(m.CreateSessionRequest(system_prompt="sys"))
    svc.start_turn(s.id, m.StartTurnRequest("first"))
    out = svc.apply_runtime_turn(s.id, "run-2", m.StartTurnRequest("second", additional_instructions=("careful",)), "immediate", [])
    (msgs1, hist1, _, results1), (msgs2, hist2, run2, _) = seen
    assert msgs1 == [{"role": "system", "content": "sys"}, {"role": "user", "content": "first"}]
    assert hist1 == [{"role": "system", "content": "sys"}] and results1 == []
    assert msgs2[:-1] == hist2 == svc.read(s.id).messages[:3]
    assert msgs2[-1] == {"role": "user", "content": "[SYSTEM NOTICE: careful]\n\nsecond"} == svc.read(s.id).messages[3]
    assert run2 == "run-2" == out.receipt.run_id


class NoRunTurn:
    pass


class NotCallable:
    run_turn = "no"


@pytest.mark.parametrize(("agent", "words"), [
    (NoRunTurn(), "callable run_turn"),
    (NotCallable(), "callable run_turn"),
    (None, "callable run_turn"),
    (EchoAgent, "pass an instance, e.g. EchoAgent()"),
    (NoRunTurn, "got the class NoRunTurn"),
])
def test_agents_are_checked_at_construction(tmp_path, agent, words):
    with pytest.raises(m.InvalidRequest, match=words.replace("(", r"\(").replace(")", r"\)")):
        m.EphemeralSessionService(agent)
    with pytest.raises(m.InvalidRequest, match="run_turn"):
        m.PersistentSessionService(tmp_path / "j", agent)
    assert not (tmp_path / "j").exists()  # refused before the journal was opened
    with pytest.raises(m.InvalidRequest, match="run_turn"):
        m.MobRuntime.open(tmp_path / "mobs", agent)
    assert not (tmp_path / "mobs").exists()
