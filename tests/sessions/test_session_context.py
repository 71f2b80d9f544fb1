"""append_system_context: applied / staged / duplicate, conflicts, and where staged context lands."""

from __future__ import annotations

import pytest

import mob_actors as m
from mob_actors.testing import ScriptedAgent

from sessions_helpers import InThread, event_types, roles_and_contents


def test_applied_context_is_a_system_message_and_an_event(make_service):
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="hi"))
    assert svc.append_system_context(s.id, "  be polite  ", source="policy") == "applied"
    assert svc.append_system_context(s.id, "plain") == "applied"
    msgs = svc.read(s.id).messages
    assert msgs[-2:] == [{"role": "system", "content": "be polite", "source": "policy"}, {"role": "system", "content": "plain"}]
    if isinstance(svc, m.PersistentSessionService):
        events = [e for e in svc.journal.read("session:" + s.id) if e.type == "context_appended"]
        assert [(e.data["text"], e.data["source"], e.data["staged"]) for e in events] == [("be polite", "policy", False), ("plain", None, False)]


def test_idempotency_key_duplicate_conflict_and_invalid(make_service):
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest())
    assert svc.append_system_context(s.id, "rule", source="a", idempotency_key="k1") == "applied"
    assert svc.append_system_context(s.id, "rule", source="a", idempotency_key="k1") == "duplicate"
    assert svc.append_system_context(s.id, " rule ", source="a", idempotency_key="k1") == "duplicate"  # trimmed first
    for text, source in (("other", "a"), ("rule", "b"), ("rule", None)):
        with pytest.raises(m.Conflict) as ei:
            svc.append_system_context(s.id, text, source=source, idempotency_key="k1")
        assert ei.value.code == "SESSION_SYSTEM_CONTEXT_CONFLICT"
    for bad in ("", "   ", None, 5):
        with pytest.raises(m.InvalidRequest) as ei2:
            svc.append_system_context(s.id, bad)
        assert ei2.value.code == "INVALID_PARAMS"
    assert svc.read(s.id).messages == [{"role": "system", "content": "rule", "source": "a"}]  # only the first landed


def test_idempotency_keys_are_durable(persistent, jr):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest())
    svc.append_system_context(s.id, "rule", idempotency_key="k")
    svc.shutdown()
    svc2 = persistent()
    svc2.create_session(m.CreateSessionRequest(session_id=s.id))
    assert svc2.append_system_context(s.id, "rule", idempotency_key="k") == "duplicate"
    with pytest.raises(m.Conflict):
        svc2.append_system_context(s.id, "changed", idempotency_key="k")
    assert event_types(jr, s.id).count("context_appended") == 1


def test_context_staged_during_a_turn_lands_before_the_next_turns_user_message(make_service):
    seen: list[list] = []

    def record(reply):
        def step(ctx):
            seen.append(list(ctx.session.messages))
            return m.TurnOutcome([{"role": "assistant", "content": reply}], reply)

        return step

    agent = ScriptedAgent([record("a1"), record("a2"), "a3"])
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest())
    agent.hold.clear()
    try:
        turn = InThread(lambda: svc.start_turn(s.id, m.StartTurnRequest("q1")))
        assert agent.entered.wait(5)
        assert svc.append_system_context(s.id, "late news", source="ops", idempotency_key="n1") == "staged"
        assert svc.append_system_context(s.id, "late news", source="ops", idempotency_key="n1") == "duplicate"
        assert svc.read(s.id).messages == []  # staged, not in the history yet
    finally:
        agent.hold.set()
    turn.result()
    ctx_msg = {"role": "system", "content": "late news", "source": "ops"}
    # the running turn did not see it, so it is not recorded before that turn's user message
    assert roles_and_contents(svc.read(s.id).messages) == [("user", "q1"), ("assistant", "a1")]
    svc.start_turn(s.id, m.StartTurnRequest("q2"))
    msgs = svc.read(s.id).messages
    assert msgs[2:] == [ctx_msg, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]
    assert seen[0] == [] and seen[1][-1] == ctx_msg  # the next turn's agent saw it
    svc.start_turn(s.id, m.StartTurnRequest("q3"))
    assert svc.read(s.id).messages.count(ctx_msg) == 1  # consumed once, not repeated


def test_staged_context_survives_a_restart(persistent, jr):
    agent = ScriptedAgent(default="ok")
    svc = persistent(agent)
    s = svc.create_session(m.CreateSessionRequest())
    agent.hold.clear()
    try:
        turn = InThread(lambda: svc.start_turn(s.id, m.StartTurnRequest("q1")))
        assert agent.entered.wait(5)
        assert svc.append_system_context(s.id, "pending") == "staged"
    finally:
        agent.hold.set()
    turn.result()
    svc.shutdown()
    svc2 = persistent(ScriptedAgent(default="ok2"))
    svc2.create_session(m.CreateSessionRequest(session_id=s.id))
    svc2.start_turn(s.id, m.StartTurnRequest("q2"))
    assert roles_and_contents(svc2.read(s.id).messages) == [
        ("user", "q1"), ("assistant", "ok"), ("system", "pending"), ("user", "q2"), ("assistant", "ok2"),
    ]


def test_append_to_an_unknown_session_is_not_found_and_writes_nothing(persistent, jr):
    """Section 6 item 14 (no gate/stream is allocated for an unknown session)."""
    svc = persistent()
    unknown = m.new_id()
    with pytest.raises(m.SessionNotFound) as ei:
        svc.append_system_context(unknown, "hello")
    assert ei.value.code == "SESSION_NOT_FOUND"
    assert jr.highest_seq("session:" + unknown) == 0 and list(jr.streams("session:")) == []
    assert not svc.has_live_session(unknown)
    svc.cancel_all_checkpointers()
    s = svc.create_session(m.CreateSessionRequest(session_id=unknown))  # and a later create starts armed
    assert svc.checkpoint(s.id) is True
