"""Creating sessions, turns, receipts, busy/interrupt and history reads (both services)."""

from __future__ import annotations

import time

import pytest

import mob_actors as m
from mob_actors.testing import ScriptedAgent

from sessions_helpers import InThread, digest_of, event_types, roles_and_contents


def test_create_with_initial_prompt_runs_one_turn(make_service):
    agent = ScriptedAgent(["hello back"])
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="hello", metadata={"k": 1}, labels={"team": "a"}))
    assert agent.calls == ["hello"]
    assert roles_and_contents(s.messages) == [("user", "hello"), ("assistant", "hello back")]
    assert s.metadata == {"k": 1} and s.labels == {"team": "a"} and s.binding is None and not s.archived
    assert 0 < s.created_at_ms <= s.updated_at_ms
    assert abs(s.created_at_ms - time.time() * 1000) < 60_000
    assert svc.read(s.id) == s
    assert svc.has_live_session(s.id)


def test_deferred_create_calls_no_agent_and_keeps_the_system_prompt(make_service):
    agent = ScriptedAgent(["first answer"])
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest(system_prompt="be terse"))
    assert agent.calls == []
    assert s.messages == [{"role": "system", "content": "be terse"}]
    r = svc.start_turn(s.id, m.StartTurnRequest("q"))
    assert r.text == "first answer" and r.message_count == 3
    assert roles_and_contents(svc.read(s.id).messages) == [("system", "be terse"), ("user", "q"), ("assistant", "first answer")]


def test_system_prompt_override_only_on_a_deferred_first_turn(make_service):
    agent = ScriptedAgent(default="ok")
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest(system_prompt="old"))
    svc.start_turn(s.id, m.StartTurnRequest("one", system_prompt="new"))
    msgs = svc.read(s.id).messages
    assert roles_and_contents(msgs) == [("system", "new"), ("user", "one"), ("assistant", "ok")]
    with pytest.raises(m.Unsupported) as ei:
        svc.start_turn(s.id, m.StartTurnRequest("two", system_prompt="newer"))
    assert ei.value.code == "SESSION_UNSUPPORTED"
    assert agent.calls == ["one"]  # refused before the agent ran
    assert svc.read(s.id).messages == msgs

    # a session whose first turn ran at create is not deferred either
    t = svc.create_session(m.CreateSessionRequest(initial_prompt="hi"))
    with pytest.raises(m.Unsupported):
        svc.start_turn(t.id, m.StartTurnRequest("x", system_prompt="s"))

    # a deferred session without a system prompt gains one at index 0
    u = svc.create_session(m.CreateSessionRequest())
    out = svc.apply_runtime_turn(u.id, m.new_id(), m.StartTurnRequest("q", system_prompt="sys"), "immediate", [])
    snap = m.Session.from_bytes(out.session_snapshot)
    assert roles_and_contents(snap.messages) == [("system", "sys"), ("user", "q"), ("assistant", "ok")]
    assert out.receipt.conversation_digest == digest_of(snap.messages)


def test_additional_instructions_prefix_the_user_message(make_service):
    svc = make_service(ScriptedAgent(["fine"]))
    s = svc.create_session(m.CreateSessionRequest())
    svc.start_turn(s.id, m.StartTurnRequest("do it", additional_instructions=("be careful", "use tools")))
    user = svc.read(s.id).messages[0]
    assert user == {"role": "user", "content": "[SYSTEM NOTICE: be careful]\n\n[SYSTEM NOTICE: use tools]\n\ndo it"}


def test_receipts_digest_count_and_persistent_sequences(persistent, jr):
    """Section 6 item 55: the first apply of a run id is sequence 0, with a digest that anyone can
    recompute from the returned snapshot; sequences count per (session, run id) and survive a restart."""
    svc = persistent()
    a = svc.create_session(m.CreateSessionRequest())
    b = svc.create_session(m.CreateSessionRequest())
    run = m.new_id()
    out0 = svc.apply_runtime_turn(a.id, run, m.StartTurnRequest("one"), "run_checkpoint", [])
    out1 = svc.apply_runtime_turn(a.id, run, m.StartTurnRequest("two"), m.RunApplyBoundary.RUN_START, [])
    other = svc.apply_runtime_turn(a.id, m.new_id(), m.StartTurnRequest("three"), "immediate", [])
    isolated = svc.apply_runtime_turn(b.id, run, m.StartTurnRequest("b-one"), "immediate", [])
    assert [out0.receipt.sequence, out1.receipt.sequence, other.receipt.sequence, isolated.receipt.sequence] == [0, 1, 0, 0]
    assert out0.receipt.boundary is m.RunApplyBoundary.RUN_CHECKPOINT
    assert out1.receipt.boundary is m.RunApplyBoundary.RUN_START
    assert out0.receipt.run_id == run and out0.receipt.contributing_input_ids == ()
    for out in (out0, out1, other, isolated):
        snap = m.Session.from_bytes(out.session_snapshot)
        assert out.receipt.conversation_digest == digest_of(snap.messages)
        assert out.receipt.message_count == len(snap.messages)
        assert isinstance(out.terminal, m.RunResult) and out.run_result is out.terminal
        assert out.run_result.message_count == len(snap.messages)
    assert out1.run_result.text == "echo: two"
    # the snapshot of the last turn is the session as read
    assert m.Session.from_bytes(other.session_snapshot) == svc.read(a.id)
    assert len(svc.read(a.id).messages) == 6
    # a receipt's digest is the one the journal recorded for that turn
    recorded = [e.data["digest"] for e in jr.read("session:" + a.id) if e.type == "turn_applied"]
    assert recorded == [out0.receipt.conversation_digest, out1.receipt.conversation_digest, other.receipt.conversation_digest]

    svc.shutdown()
    svc2 = persistent()
    svc2.create_session(m.CreateSessionRequest(session_id=a.id))
    again = svc2.apply_runtime_turn(a.id, run, m.StartTurnRequest("four"), "immediate", [])
    assert again.receipt.sequence == 2  # persistent: earlier applies of the run id are in the journal


def test_ephemeral_receipt_sequence_is_always_zero(ephemeral):
    svc = ephemeral()
    s = svc.create_session(m.CreateSessionRequest())
    run = m.new_id()
    seqs = [svc.apply_runtime_turn(s.id, run, m.StartTurnRequest(f"t{i}"), "immediate", []).receipt.sequence for i in range(3)]
    assert seqs == [0, 0, 0]
    out = svc.apply_runtime_turn(s.id, run, m.StartTurnRequest("last"), "immediate", [])
    snap = m.Session.from_bytes(out.session_snapshot)
    assert len(snap.messages) == 8 and out.receipt.conversation_digest == digest_of(snap.messages)


def test_callback_pending_is_a_terminal_not_an_error(make_service):
    """Section 6 item 22: receipt fields passed through, snapshot present, run_result None."""
    agent = ScriptedAgent([m.CallbackPending("lookup", {"q": 1}), "after", m.CallbackPending("other", {})])
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest())
    run, inputs = m.new_id(), [m.new_id(), m.new_id()]
    out = svc.apply_runtime_turn(s.id, run, m.StartTurnRequest("find it"), "run_start", inputs)
    assert isinstance(out.terminal, m.CallbackPending)
    assert out.terminal.tool_name == "lookup" and out.terminal.arguments == {"q": 1} and out.terminal.call_id
    assert out.run_result is None
    assert out.receipt.run_id == run and out.receipt.boundary is m.RunApplyBoundary.RUN_START
    assert out.receipt.contributing_input_ids == tuple(inputs)  # passed through, in order
    snap = m.Session.from_bytes(out.session_snapshot)
    call = {"id": out.terminal.call_id, "name": "lookup", "arguments": {"q": 1}}
    # the pause is recorded with the assistant's tool-call message (issue 12)
    assert snap.messages == [{"role": "user", "content": "find it"}, {"role": "assistant", "content": "", "tool_calls": [call]}]
    assert out.receipt.conversation_digest == digest_of(snap.messages) and out.receipt.message_count == 2
    if isinstance(svc, m.PersistentSessionService):
        turn = next(e for e in svc.journal.read("session:" + s.id) if e.type == "turn_applied")
        assert turn.data["callback"] == {"tool_name": "lookup", "args": {"q": 1}, "calls": [call]}
    # the session is usable afterwards (once the host ends the pause); start_turn raises the pending callback itself
    svc.cancel_tool_calls(s.id)
    assert svc.start_turn(s.id, m.StartTurnRequest("go on")).text == "after"
    with pytest.raises(m.CallbackPending) as ei:
        svc.start_turn(s.id, m.StartTurnRequest("again"))
    assert ei.value.tool_name == "other"


def test_agent_failure_records_nothing(make_service):
    agent = ScriptedAgent([RuntimeError("model down"), "recovered"])
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt=None))
    with pytest.raises(m.AgentError) as ei:
        svc.start_turn(s.id, m.StartTurnRequest("one"))
    assert ei.value.code == "AGENT_ERROR" and "model down" in str(ei.value)
    assert svc.read(s.id).messages == []
    if isinstance(svc, m.PersistentSessionService):
        assert event_types(svc.journal, s.id) == ["session_created"]
    assert svc.start_turn(s.id, m.StartTurnRequest("two")).text == "recovered"
    assert roles_and_contents(svc.read(s.id).messages) == [("user", "two"), ("assistant", "recovered")]


def test_second_concurrent_turn_is_busy(make_service):
    """Section 6 item 21."""
    agent = ScriptedAgent(default="slow")
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest())
    agent.hold.clear()
    first = InThread(lambda: svc.start_turn(s.id, m.StartTurnRequest("one")))
    try:
        assert agent.entered.wait(5)
        with pytest.raises(m.SessionBusy) as ei:
            svc.start_turn(s.id, m.StartTurnRequest("two"))
        assert ei.value.code == "SESSION_BUSY"
        with pytest.raises(m.SessionBusy):
            svc.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("three"), "immediate", [])
        adapter = svc.runtime_adapter()
        queued = adapter.accept_input(s.id, "queued")  # accepting is fine while a turn runs
        with pytest.raises(m.SessionBusy):
            adapter.apply_pending(s.id)
    finally:
        agent.hold.set()
    assert first.result().text == "slow"
    assert agent.calls == ["one"]  # the refused turns never reached the agent
    assert adapter.input_state(queued).state == "accepted"  # still pending, not consumed by a refused turn
    assert roles_and_contents(svc.read(s.id).messages) == [("user", "one"), ("assistant", "slow")]
    assert svc.start_turn(s.id, m.StartTurnRequest("four")).text == "slow"  # not busy any more


def test_interrupt(make_service):
    """Section 6 item 24: idle -> NOT_RUNNING; an in-flight turn is cancelled promptly, nothing recorded."""
    agent = ScriptedAgent(default="never")
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest())
    with pytest.raises(m.SessionNotRunning) as ei:
        svc.interrupt(s.id)
    assert ei.value.code == "SESSION_NOT_RUNNING"
    with pytest.raises(m.SessionNotFound):
        svc.interrupt(m.new_id())
    agent.hold.clear()
    try:
        turn = InThread(lambda: svc.start_turn(s.id, m.StartTurnRequest("long")))
        assert agent.entered.wait(5)
        t0 = time.monotonic()
        svc.interrupt(s.id)
        err = turn.error(timeout=2)
        assert time.monotonic() - t0 < 1.0
        assert isinstance(err, m.AgentError) and "interrupted" in str(err)
    finally:
        agent.hold.set()
    assert svc.read(s.id).messages == []
    with pytest.raises(m.SessionNotRunning):
        svc.interrupt(s.id)  # idle again
    assert svc.start_turn(s.id, m.StartTurnRequest("short")).text == "never"


def test_read_during_an_active_turn_returns_the_committed_view_without_blocking(make_service):
    """Section 6 item 27."""
    agent = ScriptedAgent(["a1", "a2"])
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="q1"))
    before = svc.read(s.id)
    agent.hold.clear()
    try:
        turn = InThread(lambda: svc.start_turn(s.id, m.StartTurnRequest("q2")))
        assert agent.entered.wait(5)
        t0 = time.monotonic()
        during = svc.read(s.id)
        page = svc.read_history(s.id)
        listed = [x.id for x in svc.list_sessions()]
        assert time.monotonic() - t0 < 0.5
        assert during == before and page.message_count == 2 and s.id in listed
        assert not turn.done()
    finally:
        agent.hold.set()
    turn.result()
    assert roles_and_contents(svc.read(s.id).messages)[-2:] == [("user", "q2"), ("assistant", "a2")]


def test_read_history_pages(make_service):
    """Section 6 item 12 (the live part; the archived part is in test_lifecycle)."""
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="p1"))
    svc.start_turn(s.id, m.StartTurnRequest("p2"))
    all_msgs = svc.read(s.id).messages
    page = svc.read_history(s.id, offset=1, limit=2)
    assert page == m.HistoryPage(s.id, 4, 1, 2, True, all_msgs[1:3])
    assert svc.read_history(s.id, offset=2, limit=2).has_more is False
    assert svc.read_history(s.id) == m.HistoryPage(s.id, 4, 0, None, False, all_msgs)
    clamped = svc.read_history(s.id, offset=10, limit=3)
    assert (clamped.offset, clamped.messages, clamped.has_more, clamped.message_count) == (4, [], False, 4)
    assert svc.read_history(s.id, offset=0, limit=0).has_more is True
    with pytest.raises(m.InvalidRequest):
        svc.read_history(s.id, offset=-1)
    with pytest.raises(m.SessionNotFound):
        svc.read_history(m.new_id())


def test_unknown_sessions_are_not_found(make_service):
    svc = make_service()
    unknown = m.new_id()
    for call in (
        lambda: svc.read(unknown),
        lambda: svc.start_turn(unknown, m.StartTurnRequest("x")),
        lambda: svc.apply_runtime_turn(unknown, m.new_id(), m.StartTurnRequest("x"), "immediate", []),
        lambda: svc.archive(unknown),
        lambda: svc.discard_live_session(unknown),
        lambda: svc.checkpoint(unknown),
    ):
        with pytest.raises(m.SessionNotFound) as ei:
            call()
        assert ei.value.code == "SESSION_NOT_FOUND"
    assert svc.has_live_session(unknown) is False
    with pytest.raises(m.InvalidRequest):
        svc.create_session(m.CreateSessionRequest(session_id="not-a-uuid"))


def test_create_with_a_fresh_session_id_uses_it(make_service):
    svc = make_service()
    sid = m.new_id()
    s = svc.create_session(m.CreateSessionRequest(session_id=sid, initial_prompt="hi"))
    assert s.id == sid and len(s.messages) == 2
    assert [x.id for x in svc.list_sessions()] == [sid]


def test_a_bad_boundary_is_an_invalid_request(persistent):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest())
    with pytest.raises(m.InvalidRequest, match="boundary"):
        svc.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("x"), "sometimes", [])
    assert svc.read(s.id).messages == []


def test_a_failed_initial_prompt_names_the_session_it_created(persistent):
    svc = persistent(ScriptedAgent([RuntimeError("model down")]))
    with pytest.raises(m.AgentError) as ei:
        svc.create_session(m.CreateSessionRequest(initial_prompt="hi"))
    session_id = ei.value.session_id
    assert svc.has_live_session(session_id)
    assert svc.read(session_id).messages == []  # deferred: the turn can be retried
