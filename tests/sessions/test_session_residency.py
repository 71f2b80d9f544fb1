"""max_resident: few actors, every session still answers (section 6 item 23's analogue)."""

from __future__ import annotations

import threading

import mob_actors as m
from mob_actors.testing import ScriptedAgent

from sessions_helpers import InThread, roles_and_contents
from support import session_actors, wait_until


def test_at_most_max_resident_actors_yet_every_session_answers(persistent):
    svc = persistent(max_resident=3)
    ids = [svc.create_session(m.CreateSessionRequest(initial_prompt=f"p{i}")).id for i in range(10)]
    wait_until(lambda: len(session_actors()) <= 3, message="at most 3 resident actors")
    for rnd in range(2):
        for n, sid in enumerate(ids):
            assert svc.has_live_session(sid)
            msgs = svc.read(sid).messages
            assert len(msgs) == 2 + 2 * rnd and msgs[0]["content"] == f"p{n}"
            assert svc.start_turn(sid, m.StartTurnRequest(f"r{rnd}")).message_count == 4 + 2 * rnd
            assert len(session_actors()) <= 4  # the one just spawned, while the LRU one stops
    wait_until(lambda: len(session_actors()) <= 3, message="at most 3 resident actors")
    rows = svc.list_sessions()
    assert [r.id for r in rows] == ids and all(r.is_live and r.message_count == 6 for r in rows)
    assert all(svc.has_live_session(sid) for sid in ids)
    # a passivated session still streams: its subscription outlives the actor
    stream = svc.subscribe_session_events(ids[0])
    for sid in ids[1:]:
        svc.read(sid)
        svc.append_system_context(sid, "touch")  # brings them back, evicting ids[0]
    svc.start_turn(ids[0], m.StartTurnRequest("late"))
    assert [stream.next(2).type for _ in range(3)] == ["run_started", "text_delta", "run_completed"]


def test_concurrent_turns_then_residency_settles(persistent):
    """Sessions mid-turn are not passivated, so the count may exceed the limit while turns run;
    once they finish it must come back under it, and no turn may be lost."""
    agent = ScriptedAgent(default="ok")
    svc = persistent(agent, max_resident=3)
    ids = [svc.create_session(m.CreateSessionRequest()).id for _ in range(10)]
    agent.hold.clear()
    try:
        turns = [InThread(lambda sid=sid: svc.start_turn(sid, m.StartTurnRequest("q"))) for sid in ids]
        wait_until(lambda: len(agent.calls) == 10, message="all ten turns to be running")
    finally:
        agent.hold.set()
    for t in turns:
        assert t.result().message_count == 2
    wait_until(lambda: len(session_actors()) <= 3, message="residency to settle at max_resident")
    for sid in ids:
        assert roles_and_contents(svc.read(sid).messages) == [("user", "q"), ("assistant", "ok")]


def test_concurrent_creates_and_turns_under_a_small_limit(persistent, jr):
    svc = persistent(max_resident=2)
    errors: list[BaseException] = []
    created: list[str] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        try:
            s = svc.create_session(m.CreateSessionRequest(initial_prompt=f"w{k}"))
            with lock:
                created.append(s.id)
            for i in range(5):
                svc.start_turn(s.id, m.StartTurnRequest(f"w{k}-{i}"))
                svc.append_system_context(s.id, f"c{i}")
                assert len(svc.read(s.id).messages) == 2 + 3 * (i + 1)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(created) == 8 and {r.id for r in svc.list_sessions()} == set(created)
    wait_until(lambda: len(session_actors()) <= 2, message="at most 2 resident actors")
    for sid in created:
        page = svc.read_history(sid)
        assert page.message_count == 17
        assert svc.load_persisted_session(sid).messages == page.messages
