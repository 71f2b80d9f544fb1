"""Archive, discard, revive, list, load_persisted_session, session_belongs_to_mob and the flags."""

from __future__ import annotations

import threading
import time

import pytest

import journal
import mob_actors as m
from mob_actors.testing import EchoAgent, ScriptedAgent

from sessions_helpers import InThread, event_types, roles_and_contents
from support import session_actors, wait_until


def test_flags_and_the_adapter_is_one_object(persistent, ephemeral):
    p, e = persistent(), ephemeral()
    assert p.supports_persistent_sessions() is True
    assert e.supports_persistent_sessions() is False
    for svc in (p, e):
        adapter = svc.runtime_adapter()
        assert isinstance(adapter, m.RuntimeAdapter)
        assert svc.runtime_adapter() is adapter
    assert p.runtime_adapter() is not e.runtime_adapter()


def test_list_sessions_in_creation_order_and_archive_hides(make_service):
    """Section 6 item 25: after archive, list is empty."""
    svc = make_service()
    ids = [svc.create_session(m.CreateSessionRequest(labels={"n": str(i)})).id for i in range(3)]
    rows = svc.list_sessions()
    assert [r.id for r in rows] == ids
    assert all(r.is_live for r in rows) and [r.labels for r in rows] == [{"n": "0"}, {"n": "1"}, {"n": "2"}]
    svc.start_turn(ids[1], m.StartTurnRequest("x"))
    assert {r.id: r.message_count for r in svc.list_sessions()} == {ids[0]: 0, ids[1]: 2, ids[2]: 0}
    svc.archive(ids[1])
    assert [r.id for r in svc.list_sessions()] == [ids[0], ids[2]]
    for i in (ids[0], ids[2]):
        svc.archive(i)
    assert svc.list_sessions() == []


def test_ephemeral_archived_session(ephemeral):
    """Section 6 items 19 and 20."""
    svc = ephemeral()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="hi"))
    svc.archive(s.id)
    assert not svc.has_live_session(s.id)
    with pytest.raises(m.SessionNotFound) as ei:
        svc.start_turn(s.id, m.StartTurnRequest("again"))
    assert ei.value.code == "SESSION_NOT_FOUND"
    with pytest.raises(m.PersistenceDisabled) as ei2:
        svc.read_history(s.id)
    assert ei2.value.code == "SESSION_PERSISTENCE_DISABLED"
    archived = svc.read(s.id)
    assert archived.archived is True and len(archived.messages) == 2
    with pytest.raises(m.StreamNotFound):
        svc.subscribe_session_events(s.id)
    with pytest.raises(m.SessionNotFound):
        svc.archive(s.id)
    assert svc.load_persisted_session(s.id) is None


def test_persistent_archive_keeps_history_readable_across_restart(persistent, jr):
    """Section 6 items 12 and 13: archived history stays readable (also after a restart); list hides it."""
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="p1"))
    svc.start_turn(s.id, m.StartTurnRequest("p2"))
    svc.archive(s.id)
    assert event_types(jr, s.id) == ["session_created", "turn_applied", "turn_applied", "archived"]
    assert not svc.has_live_session(s.id) and svc.list_sessions() == []
    page = svc.read_history(s.id, offset=1, limit=2)
    assert page.message_count == 4 and page.has_more and roles_and_contents(page.messages) == [
        ("assistant", "echo: p1"), ("user", "p2"),
    ]
    assert svc.read(s.id).archived is True
    assert svc.load_persisted_session(s.id) is None  # archived -> None
    with pytest.raises(m.SessionNotFound):
        svc.start_turn(s.id, m.StartTurnRequest("p3"))
    with pytest.raises(m.SessionNotFound):
        svc.archive(s.id)  # already archived
    with pytest.raises(m.SessionNotFound):
        svc.append_system_context(s.id, "late")
    with pytest.raises(m.StreamNotFound):
        svc.subscribe_session_events(s.id)
    assert event_types(jr, s.id)[-1] == "archived"  # the refused calls wrote nothing

    svc.shutdown()
    svc2 = persistent()
    assert svc2.list_sessions() == []
    assert svc2.read_history(s.id).message_count == 4
    assert svc2.read(s.id).archived is True
    assert svc2.load_persisted_session(s.id) is None


def test_persistent_archive_of_a_durable_only_session(persistent, jr):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="x"))
    svc.shutdown()
    svc2 = persistent()
    assert not svc2.has_live_session(s.id) and [r.id for r in svc2.list_sessions()] == [s.id]
    svc2.archive(s.id)
    assert event_types(jr, s.id)[-1] == "archived"
    assert svc2.list_sessions() == [] and svc2.load_persisted_session(s.id) is None
    with pytest.raises(m.SessionNotFound):
        svc2.archive(s.id)


def test_persistent_discard_drops_only_the_live_actor(persistent, jr):
    agent = ScriptedAgent(["a1"], default="a2")
    svc = persistent(agent)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="q1", binding=m.MobBinding("mob", "worker", "w1")))
    other = svc.create_session(m.CreateSessionRequest())
    ref = svc.actor_ref(s.id)
    assert len(session_actors()) == 2
    svc.discard_live_session(s.id)
    wait_until(lambda: not ref.is_alive(), message="the discarded actor to stop")
    assert len(session_actors()) == 1
    assert svc.has_live_session(s.id) is False and svc.has_live_session(other.id)
    assert event_types(jr, s.id) == ["session_created", "turn_applied", "discarded"]
    # durable history stays readable and listable
    assert roles_and_contents(svc.read(s.id).messages) == [("user", "q1"), ("assistant", "a1")]
    assert svc.read_history(s.id).message_count == 2
    rows = {r.id: r for r in svc.list_sessions()}
    assert set(rows) == {s.id, other.id} and rows[s.id].is_live is False and rows[other.id].is_live is True
    assert svc.load_persisted_session(s.id) == svc.read(s.id)
    assert svc.session_belongs_to_mob(s.id, "mob") is True
    # but it is not live
    with pytest.raises(m.SessionNotFound):
        svc.start_turn(s.id, m.StartTurnRequest("q2"))
    with pytest.raises(m.SessionNotFound):
        svc.discard_live_session(s.id)
    with pytest.raises(m.StreamNotFound):
        svc.subscribe_session_events(s.id)
    # and revivable: same id, full history, no agent call
    revived = svc.create_session(m.CreateSessionRequest(session_id=s.id, initial_prompt="ignored"))
    assert revived.id == s.id and roles_and_contents(revived.messages) == [("user", "q1"), ("assistant", "a1")]
    assert agent.calls == ["q1"]
    assert svc.has_live_session(s.id)
    assert event_types(jr, s.id) == ["session_created", "turn_applied", "discarded", "session_revived"]
    assert svc.start_turn(s.id, m.StartTurnRequest("q2")).message_count == 4


def test_ephemeral_discard_keeps_nothing(ephemeral):
    svc = ephemeral()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="hi"))
    svc.discard_live_session(s.id)
    assert not svc.has_live_session(s.id) and svc.list_sessions() == []
    for call in (lambda: svc.read(s.id), lambda: svc.read_history(s.id), lambda: svc.start_turn(s.id, m.StartTurnRequest("x"))):
        with pytest.raises(m.SessionNotFound):
            call()
    with pytest.raises(m.StreamNotFound):
        svc.subscribe_session_events(s.id)
    with pytest.raises(m.SessionNotFound):
        svc.discard_live_session(s.id)
    assert session_actors() == []


def test_revive_after_restart_with_full_history_and_no_agent_call(persistent, jr):
    svc = persistent(EchoAgent())
    s = svc.create_session(m.CreateSessionRequest(system_prompt="sys", initial_prompt="one", labels={"l": "1"}, metadata={"m": 2}))
    svc.start_turn(s.id, m.StartTurnRequest("two"))
    svc.append_system_context(s.id, "ctx", source="ops")
    before = svc.read(s.id)
    svc.shutdown()

    agent = ScriptedAgent(default="three-answer")
    svc2 = persistent(agent)
    assert not svc2.has_live_session(s.id)
    revived = svc2.create_session(m.CreateSessionRequest(session_id=s.id, initial_prompt="should not run"))
    assert agent.calls == []
    assert revived.id == s.id
    assert revived.messages == before.messages and revived.labels == {"l": "1"} and revived.metadata == {"m": 2}
    assert revived.created_at_ms == before.created_at_ms
    assert svc2.has_live_session(s.id)
    # reviving a live session is a no-op read
    assert svc2.create_session(m.CreateSessionRequest(session_id=s.id)) == svc2.read(s.id)
    assert event_types(jr, s.id).count("session_revived") == 1
    svc2.start_turn(s.id, m.StartTurnRequest("three"))
    assert len(svc2.read(s.id).messages) == len(before.messages) + 2


def test_revive_unarchives(persistent):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="x"))
    svc.archive(s.id)
    assert svc.list_sessions() == []
    revived = svc.create_session(m.CreateSessionRequest(session_id=s.id))
    assert revived.archived is False and len(revived.messages) == 2
    assert [r.id for r in svc.list_sessions()] == [s.id]
    assert svc.load_persisted_session(s.id) == svc.read(s.id)


def test_revive_refuses_a_different_binding(persistent):
    svc = persistent()
    binding = m.MobBinding("mob-a", "worker", "w1")
    s = svc.create_session(m.CreateSessionRequest(binding=binding))
    svc.discard_live_session(s.id)
    with pytest.raises(m.InvalidRequest):
        svc.create_session(m.CreateSessionRequest(session_id=s.id, binding=m.MobBinding("mob-b", "worker", "w1")))
    assert not svc.has_live_session(s.id)
    assert svc.create_session(m.CreateSessionRequest(session_id=s.id, binding=binding)).binding == binding


def test_load_persisted_session(persistent, ephemeral, jr):
    svc = persistent()
    assert svc.load_persisted_session(m.new_id()) is None
    assert svc.load_persisted_session("garbage") is None
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="a"))
    svc.start_turn(s.id, m.StartTurnRequest("b"))
    loaded = svc.load_persisted_session(s.id)
    assert loaded == svc.read(s.id) and len(loaded.messages) == 4
    svc.checkpoint(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("c"))  # after the snapshot: snapshot + later events
    assert svc.load_persisted_session(s.id) == svc.read(s.id)
    e = ephemeral()
    es = e.create_session(m.CreateSessionRequest(initial_prompt="a"))
    assert e.load_persisted_session(es.id) is None


def test_session_belongs_to_mob(persistent, ephemeral, jpath):
    svc = persistent()
    bound = svc.create_session(m.CreateSessionRequest(binding=m.MobBinding("mob-1", "worker", "w1")))
    free = svc.create_session(m.CreateSessionRequest())
    assert svc.session_belongs_to_mob(bound.id, "mob-1") is True
    assert svc.session_belongs_to_mob(bound.id, "mob-2") is False
    assert svc.session_belongs_to_mob(free.id, "mob-1") is False
    for garbage in (m.new_id(), "not-a-uuid", "", None, 42, ["x"]):
        assert svc.session_belongs_to_mob(garbage, "mob-1") is False
    svc.shutdown()
    svc2 = persistent()
    assert not svc2.has_live_session(bound.id)
    assert svc2.session_belongs_to_mob(bound.id, "mob-1") is True  # durable binding
    svc2.archive(bound.id)
    assert svc2.session_belongs_to_mob(bound.id, "mob-1") is False
    e = ephemeral()
    assert e.session_belongs_to_mob("garbage", "mob-1") is False
    # The ephemeral service has no durable binding to answer from (reference table, section 1).
    live_bound = e.create_session(m.CreateSessionRequest(binding=m.MobBinding("mob-1", "worker", "w1")))
    assert e.session_belongs_to_mob(live_bound.id, "mob-1") is False


def test_session_belongs_to_mob_never_raises_even_with_a_closed_journal(tmp_path):
    svc = m.PersistentSessionService(tmp_path / "own", EchoAgent())  # owns (and closes) its journal
    s = svc.create_session(m.CreateSessionRequest(binding=m.MobBinding("mob", "p", "x")))
    svc.shutdown()
    assert svc.journal.closed
    assert svc.session_belongs_to_mob(s.id, "mob") is False


def test_every_lifecycle_step_is_an_event(persistent, jr):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    svc.append_system_context(s.id, "ctx")
    svc.runtime_adapter().accept_input(s.id, "in")
    svc.runtime_adapter().apply_pending(s.id)
    assert svc.checkpoint(s.id) is True
    svc.discard_live_session(s.id)
    svc.create_session(m.CreateSessionRequest(session_id=s.id))
    svc.archive(s.id)
    assert event_types(jr, s.id) == [
        "session_created", "turn_applied", "context_appended", "input_accepted", "turn_applied",
        "checkpointed", "discarded", "session_revived", "archived",
    ]
    assert [info.stream_id for info in jr.streams("session:")] == ["session:" + s.id]
    # appends are durable before the call returns: a second reader sees them
    with journal.open(jr.path, readonly=True) as ro:
        assert [e.type for e in ro.read("session:" + s.id)][-1] == "archived"


@pytest.mark.parametrize("how", ["archive", "discard"])
def test_archive_and_discard_wait_for_a_running_turn(make_service, how):
    agent = ScriptedAgent(default="finished")
    svc = make_service(agent)
    s = svc.create_session(m.CreateSessionRequest())
    agent.hold.clear()
    try:
        turn = InThread(lambda: svc.start_turn(s.id, m.StartTurnRequest("q")))
        assert agent.entered.wait(5)
        stop = InThread(lambda: svc.archive(s.id) if how == "archive" else svc.discard_live_session(s.id))
        time.sleep(0.1)
        assert not stop.done() and svc.has_live_session(s.id)
    finally:
        agent.hold.set()
    assert turn.result().text == "finished"
    stop.result()
    assert not svc.has_live_session(s.id)
    if svc.supports_persistent_sessions():
        assert roles_and_contents(svc.read(s.id).messages) == [("user", "q"), ("assistant", "finished")]
        assert event_types(svc.journal, s.id)[-2:] == ["turn_applied", "archived" if how == "archive" else "discarded"]


def test_a_shut_down_service_refuses_work_and_stops_every_actor(make_service):
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="x"))
    assert len(session_actors()) == 1
    svc.shutdown()
    svc.shutdown()  # idempotent
    assert session_actors() == []
    assert not svc.has_live_session(s.id)
    with pytest.raises(m.SessionError):
        svc.create_session(m.CreateSessionRequest())
    with pytest.raises(m.SessionError):
        svc.start_turn(s.id, m.StartTurnRequest("y"))


def test_calls_racing_an_archive_or_discard_never_write_after_it_nor_revive_the_actor(persistent, jr):
    """Appends queued behind the archive/discard must be refused (NotFound), not written after the
    session's last event, and a retry must not bring back an orphan actor."""
    svc = persistent()
    for i in range(40):
        s = svc.create_session(m.CreateSessionRequest())
        stop = threading.Event()
        answers: list[str] = []

        def hammer(sid: str = s.id, stop: threading.Event = stop, answers: list[str] = answers) -> None:
            while not stop.is_set():
                try:
                    answers.append(svc.append_system_context(sid, "x"))
                except m.SessionNotFound:
                    return

        worker = InThread(hammer)
        time.sleep(0.002)
        last = "archived" if i % 2 else "discarded"
        svc.archive(s.id) if last == "archived" else svc.discard_live_session(s.id)
        stop.set()
        worker.result()
        types = event_types(jr, s.id)
        assert types[-1] == last, f"round {i}: {types[types.index(last):]} written after the {last} event"
        assert types.count("context_appended") == answers.count("applied")  # every "applied" is durable
        wait_until(lambda: session_actors() == [], message="no session actor left")
