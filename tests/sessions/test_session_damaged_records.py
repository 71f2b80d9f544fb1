"""A stored event that decodes but breaks its schema (issue 13 item 5): reading that session raises
``CorruptEvent`` naming the stream, seq and field; every other session keeps working, and
``list_sessions`` lists the damaged one with its error instead of failing for all.

The damage is real: crafted events appended with the journal API to a real journal, as a buggy
writer or a hand-edited import would leave them.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

import journal
import mob_actors as m
from mob_actors.core.state import evolve
from mob_actors.testing import EchoAgent

from sessions_helpers import digest_of


def damage(jr: journal.Journal, session_id: str, type_: str, data: Any) -> int:
    """Append one crafted event to a session's stream; its seq."""
    return jr.append("session:" + session_id, [journal.Event(type_, data)]).last_seq


def turn_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "run_id": "r", "boundary": "immediate", "messages": [{"role": "user", "content": "u"}], "system_prompt": None,
        "text": "", "usage": {}, "contributing_input_ids": [], "sequence": 0, "digest": "0" * 64, "message_count": 3,
        "callback": None, "at_ms": 1,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


CASES = [
    pytest.param("turn_applied", turn_data(messages=...), "it has no field 'messages'", "messages", id="missing-field"),
    pytest.param("turn_applied", turn_data(messages=None), "its messages are a NoneType, not a list", None, id="wrong-type"),
    pytest.param("turn_applied", turn_data(messages=[{"role": "user", "content": msgpack.ExtType(3, b"x")}]),
                 "is not JSON serializable", None, id="exttype-in-a-message"),
    pytest.param("turn_applied", turn_data(usage="text", digest="auto"), "AttributeError", None, id="usage-not-a-dict"),
    pytest.param("context_appended", {"text": "t", "at_ms": 1}, "it has no field 'source'", "source", id="context-missing-field"),
    pytest.param("no_such_event", {"at_ms": 1}, "not a session event type this version knows", None, id="unknown-type"),
    pytest.param("session_created", {"session_id": "x"}, "second session_created", None, id="second-created"),
]


@pytest.mark.parametrize(("type_", "data", "problem", "field"), CASES)
def test_one_damaged_session_raises_corrupt_event_and_the_others_carry_on(persistent, jr, type_, data, problem, field) -> None:
    svc = persistent()
    bad = svc.create_session(m.CreateSessionRequest(initial_prompt="hello"))
    good = svc.create_session(m.CreateSessionRequest(initial_prompt="fine"))
    svc.shutdown()
    if data.get("digest") == "auto":  # a turn that is right except for the damage under test
        data = {**data, "digest": digest_of([*bad.messages, *data["messages"]])}
    seq = damage(jr, bad.id, type_, data)

    svc = persistent()
    with pytest.raises(m.CorruptEvent, match=problem) as info:
        svc.read(bad.id)
    error = info.value
    assert isinstance(error, m.StoreError) and error.code == "CORRUPT_EVENT"
    assert (error.stream, error.seq, error.event_type, error.field) == ("session:" + bad.id, seq, type_, field)
    assert f"session:{bad.id} seq {seq}" in str(error) and error.session_id == bad.id
    # the damaged session cannot be revived either, and says why
    with pytest.raises(m.CorruptEvent):
        svc.create_session(m.CreateSessionRequest(session_id=bad.id))
    with pytest.raises(m.SessionNotFound, match="its stored events cannot be read"):
        svc.start_turn(bad.id, m.StartTurnRequest("x"))
    # the listing shows both, the damaged one with its error
    rows = {r.id: r for r in svc.list_sessions()}
    assert rows[good.id].error is None and rows[good.id].message_count == 2
    assert rows[bad.id].error is not None and problem in rows[bad.id].error
    # the healthy session is untouched
    assert svc.read(good.id).messages[-1] == {"role": "assistant", "content": "echo: fine"}
    svc.create_session(m.CreateSessionRequest(session_id=good.id))
    assert svc.start_turn(good.id, m.StartTurnRequest("more")).text == "echo: more"


def test_a_damaged_first_event_names_the_stream(persistent, jr) -> None:
    sid = m.new_id()
    jr.append("session:" + sid, [journal.Event("session_created", {"session_id": sid, "created_at_ms": "yesterday"})])
    svc = persistent()
    with pytest.raises(m.CorruptEvent, match=f"session:{sid} seq 1: the 'session_created' event is damaged") as info:
        svc.read(sid)
    assert info.value.seq == 1


def test_the_input_index_skips_a_damaged_input_event(persistent, jr) -> None:
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest())
    input_id = svc.runtime_adapter().accept_input(s.id, "kept")
    svc.shutdown()
    damage(jr, m.new_id(), "input_accepted", {"content": "no id", "at_ms": 1})  # a stream of its own
    svc = persistent(EchoAgent())
    state = svc.runtime_adapter().input_state(input_id)
    assert state is not None and state.state == "accepted" and state.content == "kept"


def test_evolve_turns_every_schema_break_into_corrupt_event() -> None:
    created = journal.Event("session_created", {
        "session_id": "s", "created_at_ms": 1, "messages": [], "metadata": {}, "labels": {}, "binding": None,
    })
    for bad in (journal.Event("archived", None), journal.Event("checkpointed", {"at_ms": 1}), journal.Event(7, {})):  # type: ignore[arg-type]
        with pytest.raises(m.CorruptEvent, match="session:s seq 2"):
            evolve(evolve(None, created), bad)
