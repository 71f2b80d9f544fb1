"""Bad input gets the library's own error, at the door and before any agent call (issue 13 items
9-13, issue 14 items 13 and 15): wrong types, coercion, NaN, lone surrogates, nesting beyond the
limit, bad agent outcomes that must not crash the session's actor, and errors that say what to
do next."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest

import mob_actors as m
from mob_actors.core.values import MAX_DEPTH
from mob_actors.testing import EchoAgent, ScriptedAgent

from sessions_helpers import event_types


def nested(depth: int) -> Any:
    """A value ``depth`` containers deep: nested(1) == [0]."""
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


# -- create_session ------------------------------------------------------------------------------


@pytest.mark.parametrize(("req", "match"), [
    (None, "create_session expects a CreateSessionRequest, got NoneType"),
    ("hello", "create_session expects a CreateSessionRequest, got str"),
    (m.CreateSessionRequest(metadata=[("a", 1)]), r"CreateSessionRequest.metadata must be a dict or None, got list"),
    (m.CreateSessionRequest(labels="x"), r"CreateSessionRequest.labels must be a dict or None, got str"),
    (m.CreateSessionRequest(binding={"mob_id": "m"}), r"CreateSessionRequest.binding must be a MobBinding or None, got dict"),
    (m.CreateSessionRequest(binding=m.MobBinding("m", 3, "w")), r"CreateSessionRequest.binding.profile must be a str, got int"),
    (m.CreateSessionRequest(system_prompt=123), r"CreateSessionRequest.system_prompt must be a str or None, got int 123"),
    (m.CreateSessionRequest(initial_prompt=b"hi"), r"CreateSessionRequest.initial_prompt must be a str or None, got bytes"),
    (m.CreateSessionRequest(metadata={"k": {1, 2}}), r"CreateSessionRequest.metadata\['k'\]: set cannot be stored"),
    (m.CreateSessionRequest(metadata={1: "a"}), r"CreateSessionRequest.metadata\[1\]: keys must be str, got int"),
    (m.CreateSessionRequest(metadata={"x": float("nan")}), r"CreateSessionRequest.metadata\['x'\]: nan is not allowed"),
    (m.CreateSessionRequest(labels={"x": [1.0, math.inf]}), r"CreateSessionRequest.labels\['x'\]\[1\]: inf is not allowed"),
    (m.CreateSessionRequest(metadata={"deep": nested(MAX_DEPTH)}), f"nested deeper than {MAX_DEPTH} levels"),
    (m.CreateSessionRequest(initial_prompt="hi \ud800"), r"initial_prompt contains a lone surrogate '\\ud800' at index 3"),
    (m.CreateSessionRequest(labels={"a\udfff": 1}), r"labels\['a\\udfff'\]: a lone surrogate"),
    (m.CreateSessionRequest(session_id="\ud800"), r"CreateSessionRequest.session_id contains a lone surrogate"),
])
def test_a_bad_create_request_is_refused_naming_the_argument(make_service, req: Any, match: str) -> None:
    agent = ScriptedAgent(default="never")
    svc = make_service(agent)
    with pytest.raises(m.InvalidRequest, match=match):
        svc.create_session(req)
    assert agent.calls == [] and svc.live_session_ids() == [] and svc.list_sessions() == []


def test_nesting_up_to_the_limit_is_stored_and_reads_back_identically(persistent, jr) -> None:
    deepest = {"d": nested(MAX_DEPTH - 1)}  # the dict is one level, its value the other 63
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(metadata=deepest))
    assert s.metadata == deepest
    svc.discard_live_session(s.id)
    assert svc.read(s.id).metadata == deepest


def test_a_tuple_in_metadata_reads_back_as_a_list_live_and_after_a_restart(persistent, jr) -> None:  # issue 14 item 15
    svc = persistent()
    given = {"pair": (1, 2), "nested": {"t": ("a", ("b",))}}
    s = svc.create_session(m.CreateSessionRequest(metadata=given, labels={"l": (3,)}))
    live = svc.read(s.id)
    assert live.metadata == {"pair": [1, 2], "nested": {"t": ["a", ["b"]]}} and live.labels == {"l": [3]}
    assert type(live.metadata["pair"]) is list
    given["pair"] = (9,)  # the caller's later changes do not reach the session
    svc.shutdown()
    again = persistent()
    assert again.load_persisted_session(s.id) == live
    assert again.read(s.id).metadata == live.metadata and again.read(s.id).labels == live.labels


# -- turns: the request ------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "match"), [
    (lambda svc, sid: svc.start_turn(sid, "text"), "a turn expects a StartTurnRequest, got str"),
    (lambda svc, sid: svc.start_turn(sid, m.StartTurnRequest(None)), "StartTurnRequest.prompt must be a str, got NoneType"),
    (lambda svc, sid: svc.start_turn(sid, m.StartTurnRequest("p", additional_instructions=None)),
     r"additional_instructions must be a tuple of str \(\(\) for none\), got NoneType"),
    (lambda svc, sid: svc.start_turn(sid, m.StartTurnRequest("p", additional_instructions=(1, 2))),
     r"additional_instructions\[0\] must be a str, got int"),
    (lambda svc, sid: svc.start_turn(sid, m.StartTurnRequest("p", system_prompt=123)), "system_prompt must be a str or None, got int"),
    (lambda svc, sid: svc.start_turn(sid, m.StartTurnRequest("p", on_event="print")), "on_event must be callable or None"),
    (lambda svc, sid: svc.start_turn(sid, m.StartTurnRequest("bad \udc80 prompt")), r"prompt contains a lone surrogate '\\udc80'"),
    (lambda svc, sid: svc.apply_runtime_turn(sid, "run", m.StartTurnRequest("p"), "immediate", None),
     r"contributing_input_ids must be a list of input ids \(\[\] for none\), got NoneType"),
    (lambda svc, sid: svc.apply_runtime_turn(sid, "run", m.StartTurnRequest("p"), "immediate", [7]),
     r"contributing_input_ids\[0\] must be a str, got int"),
    (lambda svc, sid: svc.apply_runtime_turn(sid, 42, m.StartTurnRequest("p"), "immediate", []), "run_id must be a str, got int"),
    (lambda svc, sid: svc.append_system_context(sid, "ctx", source=5), "source must be a str or None, got int"),
    (lambda svc, sid: svc.append_system_context(sid, "ctx \ud800"), "text contains a lone surrogate"),
    (lambda svc, sid: svc.runtime_adapter().accept_input(sid, "in \ud800"), "content contains a lone surrogate"),
])
def test_a_bad_turn_request_is_refused_before_the_agent_runs(make_service, call: Any, match: str) -> None:
    agent = ScriptedAgent(["first"], default="later")
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    actor = svc.actor_ref(s.id)
    with pytest.raises(m.InvalidRequest, match=match) as info:
        call(svc, s.id)
    assert info.value.session_id == s.id
    assert agent.calls == ["one"]  # the agent never ran for the bad request
    assert actor.is_alive() and svc.actor_ref(s.id) is actor  # the actor did not crash
    assert len(svc.read(s.id).messages) == 2
    assert svc.start_turn(s.id, m.StartTurnRequest("two")).text == "later"


def test_a_list_of_instructions_is_accepted_as_the_tuple_it_stands_for(make_service) -> None:
    svc = make_service(EchoAgent())
    s = svc.create_session(m.CreateSessionRequest())
    svc.start_turn(s.id, m.StartTurnRequest("p", additional_instructions=["be brief"]))
    assert svc.read(s.id).messages[0]["content"] == "[SYSTEM NOTICE: be brief]\n\np"


# -- turns: the agent's outcome ----------------------------------------------------------------


def outcome(**kw: Any) -> m.TurnOutcome:
    fields: dict[str, Any] = {"messages": [{"role": "assistant", "content": "x"}], "text": "x", "usage": None, **kw}
    return m.TurnOutcome(**fields)


@pytest.mark.parametrize(("bad", "match"), [
    (outcome(messages=None), "TurnOutcome.messages must be a list of message dicts, got NoneType"),
    (outcome(messages=["hello"]), r"TurnOutcome.messages\[0\] must be a dict, got str"),
    (outcome(usage="text"), "TurnOutcome.usage must be a dict or None, got str"),
    (outcome(usage={"tokens": float("nan")}), r"TurnOutcome.usage\['tokens'\]: nan is not allowed"),
    (outcome(text=5), "TurnOutcome.text must be a str, got int"),
    (outcome(messages=[{"role": "assistant", "content": float("nan")}]), r"TurnOutcome.messages\[0\]\['content'\]: nan is not allowed"),
    (outcome(messages=[{"role": "assistant", "content": "x", "extra": nested(MAX_DEPTH)}]), f"nested deeper than {MAX_DEPTH} levels"),
    (outcome(messages=[{"role": "assistant", "content": "lone \ud834"}]), "a lone surrogate"),
    (m.CallbackPending("lookup", {"q": float("nan")}), r"CallbackPending.args\['q'\]: nan is not allowed"),
])
def test_a_bad_agent_outcome_is_a_refused_turn_not_an_actor_crash(make_service, bad: Any, match: str) -> None:  # item 10
    svc = make_service(ScriptedAgent(["one", lambda ctx: bad, bad, bad, bad, "fine"]))
    failures: list[str] = []
    svc.add_failure_listener(lambda sid, e: failures.append(sid))
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="first"))
    actor = svc.actor_ref(s.id)
    for _ in range(4):  # three crashes would have marked a mob member BROKEN
        with pytest.raises(m.AgentError, match=match) as info:
            svc.start_turn(s.id, m.StartTurnRequest("again"))
        assert "nothing was recorded" in str(info.value) and info.value.session_id == s.id
    assert actor.is_alive() and svc.actor_ref(s.id) is actor and failures == []
    assert len(svc.read(s.id).messages) == 2
    assert svc.start_turn(s.id, m.StartTurnRequest("last")).text == "fine"


def test_an_agent_outcome_with_tuples_is_stored_as_lists_identically_after_a_restart(persistent) -> None:
    reply = m.TurnOutcome(messages=({"role": "assistant", "content": "x", "parts": ("a", "b")},), text="x", usage={"t": 1})
    svc = persistent(ScriptedAgent([reply]))
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="go"))
    live = svc.read(s.id)
    assert live.messages[-1] == {"role": "assistant", "content": "x", "parts": ["a", "b"]}
    svc.shutdown()
    assert persistent().read(s.id) == live


# -- after shutdown, and sessions that are not live --------------------------------------------


def test_every_call_after_shutdown_says_the_service_was_shut_down(persistent, caplog) -> None:  # 14.13
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="hi"))
    svc.shutdown()
    calls = [
        lambda: svc.read(s.id), lambda: svc.read_history(s.id), lambda: svc.list_sessions(),
        lambda: svc.load_persisted_session(s.id), lambda: svc.start_turn(s.id, m.StartTurnRequest("x")),
        lambda: svc.create_session(m.CreateSessionRequest()), lambda: svc.archive(s.id),
        lambda: svc.append_system_context(s.id, "x"), lambda: svc.checkpoint(s.id),
        lambda: svc.discard_live_session(s.id), lambda: svc.subscribe_session_events(s.id),
        lambda: svc.restore_session(s.id),
    ]
    with caplog.at_level(logging.WARNING):
        for call in calls:
            with pytest.raises(m.ServiceShutDown, match="the session service was shut down; create a new service"):
                call()
    assert caplog.records == []  # no stray "ignoring an unreadable snapshot"


def test_a_turn_on_a_session_that_is_not_live_says_why_and_how_to_revive(persistent, jr) -> None:  # 14.13
    svc = persistent()
    archived = svc.create_session(m.CreateSessionRequest(initial_prompt="a"))
    discarded = svc.create_session(m.CreateSessionRequest(initial_prompt="d"))
    alive = svc.create_session(m.CreateSessionRequest(initial_prompt="l"))
    svc.archive(archived.id)
    svc.discard_live_session(discarded.id)
    turn = m.StartTurnRequest("x")
    with pytest.raises(m.SessionNotFound, match=r"it is archived \(its history is kept\); revive it with create_session\(CreateSessionRequest\(session_id="):
        svc.start_turn(archived.id, turn)
    with pytest.raises(m.SessionNotFound, match=r"it was discarded \(its history is kept\); revive it with create_session"):
        svc.start_turn(discarded.id, turn)
    with pytest.raises(m.SessionNotFound, match="unknown: the journal has no session with this id"):
        svc.start_turn(m.new_id(), turn)
    with pytest.raises(m.SessionNotFound, match="unknown: session ids are UUID strings"):
        svc.start_turn("not-a-uuid", turn)
    svc.shutdown()
    later = persistent()
    with pytest.raises(m.SessionNotFound, match=r"not live in this service \(it was live before a restart\); revive it"):
        later.start_turn(alive.id, turn)
    # and the advice works
    later.create_session(m.CreateSessionRequest(session_id=archived.id))
    assert later.start_turn(archived.id, turn).text == "echo: x"


def test_the_ephemeral_service_says_an_archived_session_cannot_be_revived(ephemeral) -> None:
    svc = ephemeral()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="a"))
    svc.archive(s.id)
    with pytest.raises(m.SessionNotFound, match="archived, and the ephemeral service keeps no history to revive it from"):
        svc.start_turn(s.id, m.StartTurnRequest("x"))
    gone = svc.create_session(m.CreateSessionRequest(initial_prompt="b"))
    svc.discard_live_session(gone.id)
    with pytest.raises(m.SessionNotFound, match="or discarded: the ephemeral service keeps nothing of it"):
        svc.start_turn(gone.id, m.StartTurnRequest("x"))


def test_restore_session_makes_a_stored_session_live_without_recording_anything(persistent, jr) -> None:  # 14.12
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="a"))
    gone = svc.create_session(m.CreateSessionRequest(initial_prompt="b"))
    svc.discard_live_session(gone.id)
    svc.shutdown()
    later = persistent()
    assert later.restore_session(s.id) == later.read(s.id) and later.has_live_session(s.id)
    assert event_types(jr, s.id) == ["session_created", "turn_applied"]  # a restart is no change
    later.restore_session(gone.id)  # a discarded one is revived, and that is recorded
    assert event_types(jr, gone.id)[-2:] == ["discarded", "session_revived"]
    later.archive(s.id)
    later.shutdown()
    with pytest.raises(m.SessionNotFound, match="it is archived"):
        persistent().restore_session(s.id)
