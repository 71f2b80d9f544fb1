"""The runtime adapter: the input ledger and apply_pending (section 6 items 55-57)."""

from __future__ import annotations

import uuid

import pytest

import mob_actors as m
from mob_actors.testing import ScriptedAgent

from sessions_helpers import digest_of, event_types


def test_accept_and_apply_pending_inputs(make_service):
    """Item 57: the service provides an adapter and applying works on a deferred session."""
    agent = ScriptedAgent(default="done")
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest())
    adapter = svc.runtime_adapter()
    assert adapter.apply_pending(s.id) is None  # nothing pending -> no turn
    assert agent.calls == []
    given = m.new_id()
    first = adapter.accept_input(s.id, "first")
    second = adapter.accept_input(s.id, "second", input_id=given)
    assert second == given and uuid.UUID(first).version == 7
    assert adapter.accept_input(s.id, "first again", input_id=first) == first  # not accepted twice
    st = adapter.input_state(first)
    assert (st.input_id, st.session_id, st.state, st.content, st.run_id, st.sequence) == (first, s.id, "accepted", "first", None, None)
    assert [p.input_id for p in adapter.pending_inputs(s.id)] == [first, second]

    run = m.new_id()
    out = adapter.apply_pending(s.id, run_id=run, boundary="run_start")
    assert isinstance(out, m.CoreApplyOutput)
    assert out.receipt.contributing_input_ids == (first, second)  # in acceptance order
    assert out.receipt.run_id == run and out.receipt.boundary is m.RunApplyBoundary.RUN_START
    assert agent.calls == ["first\n\nsecond"]  # one turn over every accepted input
    snap = m.Session.from_bytes(out.session_snapshot)
    assert snap.messages == [{"role": "user", "content": "first\n\nsecond"}, {"role": "assistant", "content": "done"}]
    assert out.receipt.conversation_digest == digest_of(snap.messages)
    for input_id in (first, second):
        st = adapter.input_state(input_id)
        assert (st.state, st.run_id, st.sequence) == ("consumed", run, 0)
    assert adapter.pending_inputs(s.id) == []
    assert adapter.apply_pending(s.id) is None

    third = adapter.accept_input(s.id, "third")
    out2 = adapter.apply_pending(s.id, run_id=run)
    assert out2.receipt.contributing_input_ids == (third,)
    expected_seq = 1 if svc.supports_persistent_sessions() else 0
    assert out2.receipt.sequence == expected_seq
    assert adapter.input_state(third).sequence == expected_seq
    assert adapter.input_state(m.new_id()) is None
    with pytest.raises(m.SessionNotFound):
        adapter.accept_input(m.new_id(), "nowhere")
    with pytest.raises(m.InvalidRequest):
        adapter.accept_input(s.id, "x", input_id="not-a-uuid")


def test_an_input_id_is_accepted_once_across_sessions(persistent, jr):
    svc = persistent()
    a = svc.create_session(m.CreateSessionRequest())
    b = svc.create_session(m.CreateSessionRequest())
    adapter = svc.runtime_adapter()
    iid = adapter.accept_input(a.id, "for a")
    assert adapter.accept_input(b.id, "for b", input_id=iid) == iid
    assert adapter.pending_inputs(b.id) == [] and adapter.input_state(iid).session_id == a.id
    assert event_types(jr, a.id).count("input_accepted") == 1 and "input_accepted" not in event_types(jr, b.id)


def test_the_ledger_is_durable(persistent, jr):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest())
    adapter = svc.runtime_adapter()
    consumed = adapter.accept_input(s.id, "one")
    run = m.new_id()
    adapter.apply_pending(s.id, run_id=run)
    pending = adapter.accept_input(s.id, "two")
    svc.shutdown()

    svc2 = persistent()
    adapter2 = svc2.runtime_adapter()
    st = adapter2.input_state(consumed)
    assert (st.state, st.run_id, st.sequence) == ("consumed", run, 0)
    assert adapter2.input_state(pending).state == "accepted"
    assert adapter2.accept_input(s.id, "one, again", input_id=consumed) == consumed  # known id: not re-accepted
    assert event_types(jr, s.id).count("input_accepted") == 2
    svc2.create_session(m.CreateSessionRequest(session_id=s.id))
    out = adapter2.apply_pending(s.id)
    assert out.receipt.contributing_input_ids == (pending,)
    assert svc2.read(s.id).messages[-2]["content"] == "two"
    assert adapter2.input_state(pending).state == "consumed"


def test_unknown_contributing_ids_pass_through(make_service):
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest())
    ids = [m.new_id() for _ in range(3)]
    out = svc.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("x"), "immediate", ids)
    assert out.receipt.contributing_input_ids == tuple(ids)
    assert svc.runtime_adapter().input_state(ids[0]) is None
