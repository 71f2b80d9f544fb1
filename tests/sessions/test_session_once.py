"""Turns applied at most once per request id (``apply_runtime_turn(..., once=True)``): a repeat
returns the committed turn's stored output without running the agent again, also after a
checkpoint and after the writing process was killed; the ephemeral service refuses a repeat."""

from __future__ import annotations

import textwrap

import pytest

import journal
import mob_actors as m
from mob_actors.core.snapshots import materialize
from mob_actors.testing import ScriptedAgent

from support import run_python


def turns_of(j: journal.Journal, session_id: str) -> list[journal.RecordedEvent]:
    return [e for e in j.read("session:" + session_id) if e.type == "turn_applied"]


def test_a_repeated_request_returns_the_stored_output_and_runs_nothing(persistent, jr):
    agent = ScriptedAgent(["first", "second"])
    svc = persistent(agent)
    s = svc.create_session(m.CreateSessionRequest())
    out = svc.apply_runtime_turn(s.id, "req-1", m.StartTurnRequest("hello"), "immediate", [], once=True)
    svc.apply_runtime_turn(s.id, "req-2", m.StartTurnRequest("next"), "immediate", [], once=True)
    again = svc.apply_runtime_turn(s.id, "req-1", m.StartTurnRequest("hello"), "immediate", [], once=True)
    assert agent.calls == ["hello", "next"]  # the repeat did not reach the agent
    assert again.receipt == out.receipt and again.run_result == out.run_result
    assert again.run_result is not None and again.run_result.text == "first"
    # The snapshot is the session as that turn left it (not as it is now, one turn later).
    assert again.session_snapshot == out.session_snapshot
    assert [e.data["run_id"] for e in turns_of(jr, s.id)] == ["req-1", "req-2"]


def test_without_once_a_run_id_may_be_applied_again(persistent, jr):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest())
    svc.apply_runtime_turn(s.id, "run", m.StartTurnRequest("a"), "immediate", [], once=True)
    svc.apply_runtime_turn(s.id, "run", m.StartTurnRequest("b"), "run_checkpoint", [])
    assert [e.data["sequence"] for e in turns_of(jr, s.id)] == [0, 1]


def test_a_repeated_paused_turn_raises_the_same_pending_call(persistent):
    agent = ScriptedAgent([m.CallbackPending("search", {"q": "x"}, [{"role": "assistant", "content": "looking"}])])
    svc = persistent(agent)
    s = svc.create_session(m.CreateSessionRequest())
    first = svc.apply_runtime_turn(s.id, "req", m.StartTurnRequest("find x"), "immediate", [], once=True)
    again = svc.apply_runtime_turn(s.id, "req", m.StartTurnRequest("find x"), "immediate", [], once=True)
    assert agent.calls == ["find x"]
    assert again.terminal == first.terminal and again.run_result is None
    assert again.terminal.messages == ({"role": "assistant", "content": "looking"},)


def test_the_request_is_remembered_through_snapshots(persistent, jr):
    svc = persistent(checkpoint_every=1)
    s = svc.create_session(m.CreateSessionRequest())
    out = svc.apply_runtime_turn(s.id, "req", m.StartTurnRequest("hi"), "immediate", [], once=True)
    for i in range(3):
        svc.start_turn(s.id, m.StartTurnRequest(f"more {i}"))
    svc.shutdown()
    assert jr.load_snapshot("session:" + s.id) is not None
    agent = ScriptedAgent()
    svc2 = persistent(agent)
    svc2.create_session(m.CreateSessionRequest(session_id=s.id))
    again = svc2.apply_runtime_turn(s.id, "req", m.StartTurnRequest("hi"), "immediate", [], once=True)
    assert agent.calls == [] and again.receipt == out.receipt and again.session_snapshot == out.session_snapshot


def test_a_request_committed_by_a_killed_process_is_not_applied_again(jpath):
    # The child commits the turn and is SIGKILLed right after (no shutdown, nothing flushed by us).
    child = textwrap.dedent(f"""
        import os, signal, sys
        import mob_actors as m
        from mob_actors.testing import EchoAgent
        svc = m.PersistentSessionService({str(jpath)!r}, EchoAgent())
        s = svc.create_session(m.CreateSessionRequest())
        out = svc.apply_runtime_turn(s.id, "req-x", m.StartTurnRequest("once"), "immediate", [], once=True)
        print(s.id, out.receipt.conversation_digest, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    res = run_python("-c", child)
    assert res.returncode == -9, res.stderr
    session_id, digest = res.stdout.split()
    agent = ScriptedAgent()
    with journal.open(jpath) as j:
        svc = m.PersistentSessionService(j, agent)
        try:
            svc.create_session(m.CreateSessionRequest(session_id=session_id))
            again = svc.apply_runtime_turn(session_id, "req-x", m.StartTurnRequest("once"), "immediate", [], once=True)
            assert agent.calls == [] and again.receipt.conversation_digest == digest
            assert [e.data["run_id"] for e in turns_of(j, session_id)] == ["req-x"]
        finally:
            svc.shutdown()


def test_the_ephemeral_service_refuses_a_repeat(ephemeral):
    agent = ScriptedAgent(["one"])
    svc = ephemeral(agent)
    s = svc.create_session(m.CreateSessionRequest())
    svc.apply_runtime_turn(s.id, "req", m.StartTurnRequest("hi"), "immediate", [], once=True)
    with pytest.raises(m.Conflict, match="already applied"):
        svc.apply_runtime_turn(s.id, "req", m.StartTurnRequest("hi"), "immediate", [], once=True)
    assert agent.calls == ["hi"] and len(svc.read(s.id).messages) == 2


def test_older_snapshots_without_run_last_seq_are_replayed_instead(persistent, jr):
    svc = persistent(checkpoint_every=1)
    s = svc.create_session(m.CreateSessionRequest())
    svc.apply_runtime_turn(s.id, "req", m.StartTurnRequest("hi"), "immediate", [], once=True)
    svc.shutdown()
    stream = "session:" + s.id
    snap = jr.load_snapshot(stream)
    old = {k: v for k, v in materialize(jr, stream, snap.state).items() if k != "run_last_seq"}
    jr.save_snapshot(stream, snap.seq, old)  # what an older release left behind
    assert "run_last_seq" not in jr.load_snapshot(stream).state
    agent = ScriptedAgent()
    svc2 = persistent(agent)
    svc2.create_session(m.CreateSessionRequest(session_id=s.id))
    svc2.apply_runtime_turn(s.id, "req", m.StartTurnRequest("hi"), "immediate", [], once=True)
    assert agent.calls == []
