"""The public data types: ids, Session, requests, receipts and error codes (issue 3 contract)."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid

import pytest

import mob_actors as m

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_new_id_is_lowercase_hyphenated_uuidv7_sortable_by_time():
    before_ms = time.time_ns() // 1_000_000
    ids = [m.new_id() for _ in range(3000)]
    after_ms = time.time_ns() // 1_000_000
    for i in ids:
        assert UUID7.match(i), i
        u = uuid.UUID(i)
        assert u.version == 7 and u.variant == uuid.RFC_4122
        assert str(u) == i  # canonical form: lowercase, hyphenated
        assert before_ms <= u.int >> 80 <= after_ms  # the first 48 bits are the unix ms
    assert len(set(ids)) == len(ids)
    assert sorted(ids) == ids  # monotonic, even within one millisecond
    time.sleep(0.002)
    later = m.new_id()
    assert later > ids[-1]
    assert uuid.UUID(later).int >> 80 > uuid.UUID(ids[0]).int >> 80


def test_session_round_trips_through_bytes():
    s = m.Session(
        id=m.new_id(),
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "grüße, 世界 ✓"},
            {"role": "assistant", "content": "ok", "extra": {"n": 1, "l": [1, 2.5, None, True]}},
        ],
        metadata={"model": "x", "nested": {"a": [1, 2]}},
        labels={"team": "blue"},
        binding=m.MobBinding("mob-1", "worker", "w-1"),
        created_at_ms=1_700_000_000_000,
        updated_at_ms=1_700_000_000_500,
        archived=True,
    )
    raw = s.to_bytes()
    assert isinstance(raw, bytes)
    back = m.Session.from_bytes(raw)
    assert back == s
    assert back.binding == m.MobBinding(mob_id="mob-1", profile="worker", member_id="w-1")
    plain = m.Session(id=m.new_id())
    assert m.Session.from_bytes(plain.to_bytes()) == plain
    assert plain.binding is None and plain.archived is False and plain.messages == []


def test_session_and_binding_field_names_are_the_contract():
    assert [f.name for f in dataclasses.fields(m.Session)] == [
        "id", "messages", "metadata", "labels", "binding", "created_at_ms", "updated_at_ms", "archived",
    ]
    assert [f.name for f in dataclasses.fields(m.MobBinding)] == ["mob_id", "profile", "member_id"]
    assert [f.name for f in dataclasses.fields(m.RunBoundaryReceipt)] == [
        "run_id", "boundary", "contributing_input_ids", "conversation_digest", "message_count", "sequence",
    ]
    assert [f.name for f in dataclasses.fields(m.CoreApplyOutput)] == ["receipt", "session_snapshot", "run_result", "terminal"]
    assert [f.name for f in dataclasses.fields(m.HistoryPage)] == [
        "session_id", "message_count", "offset", "limit", "has_more", "messages",
    ]


def test_request_defaults():
    c = m.CreateSessionRequest()
    assert (c.session_id, c.initial_prompt, c.system_prompt, c.metadata, c.labels, c.binding) == (None,) * 6
    t = m.StartTurnRequest("hi")
    assert (t.prompt, t.system_prompt, t.additional_instructions, t.on_event) == ("hi", None, (), None)
    assert [b.value for b in m.RunApplyBoundary] == ["immediate", "run_start", "run_checkpoint"]


@pytest.mark.parametrize(
    "cls, code",
    [
        (m.SessionNotFound, "SESSION_NOT_FOUND"),
        (m.SessionBusy, "SESSION_BUSY"),
        (m.PersistenceDisabled, "SESSION_PERSISTENCE_DISABLED"),
        (m.SessionNotRunning, "SESSION_NOT_RUNNING"),
        (m.StoreError, "SESSION_STORE_ERROR"),
        (m.AgentError, "AGENT_ERROR"),
        (m.Unsupported, "SESSION_UNSUPPORTED"),
        (m.InvalidRequest, "INVALID_PARAMS"),
        (m.Conflict, "SESSION_SYSTEM_CONTEXT_CONFLICT"),
    ],
)
def test_session_errors_carry_their_code(cls, code):
    assert issubclass(cls, m.SessionError)
    assert cls.code == code


def test_error_hierarchy():
    assert issubclass(m.StreamNotFound, m.StreamError) and not issubclass(m.StreamNotFound, m.SessionError)
    assert m.StreamNotFound.code == "STREAM_NOT_FOUND"
    assert issubclass(m.ReplayMismatch, m.StoreError)
    assert issubclass(m.CallbackPending, m.AgentError)
    cp = m.CallbackPending("lookup", {"q": 1})
    assert (cp.tool_name, cp.arguments) == ("lookup", {"q": 1})
    assert cp.args == (str(cp),) and "lookup" in str(cp)  # the exception's own args stay standard
    assert cp == m.CallbackPending("lookup", {"q": 1}) and cp != m.CallbackPending("lookup", {"q": 2})
    e = m.SessionNotFound("abc")
    assert e.session_id == "abc" and "abc" in str(e)
