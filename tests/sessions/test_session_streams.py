"""subscribe_session_events: envelopes, ordering, truncation, end of stream (section 6 items 18, 26, 52)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import mob_actors as m
from mob_actors.testing import ScriptedAgent

from sessions_helpers import InThread


def drain(stream: m.EventStream, n: int, timeout: float = 5.0) -> list[m.EventEnvelope]:
    return [stream.next(timeout) for _ in range(n)]


def test_subscribe_right_after_a_deferred_create(make_service):
    """Item 18: the stream exists before the first turn and yields that turn's run events."""
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest())
    stream = svc.subscribe_session_events(s.id)
    with pytest.raises(TimeoutError):
        stream.next(timeout=0.05)  # no replay, nothing yet
    t0 = time.time_ns() // 1_000_000
    svc.start_turn(s.id, m.StartTurnRequest("hello"))
    events = drain(stream, 3)
    assert [e.type for e in events] == ["run_started", "text_delta", "run_completed"]
    assert [e.seq for e in events] == [1, 2, 3]
    for e in events:
        assert e.source_id == "session:" + s.id
        assert uuid.UUID(e.event_id).version == 7
        assert t0 - 5 <= e.timestamp_ms <= time.time_ns() // 1_000_000 + 5
        assert e.mob_id is None
    assert events[0].data["prompt"] == "hello" and events[0].data["session_id"] == s.id
    assert events[1].data == {"delta": "echo: hello"}
    assert events[2].data["result"] == "echo: hello"
    assert events[0].data["run_id"] == events[2].data["run_id"]


def test_seq_never_resets_and_every_turn_is_bracketed(make_service):
    """Item 26: run_started first, run_completed/run_failed last, strictly increasing seq."""

    def chatty(ctx):
        for i in range(3):
            ctx.emit("text_delta", delta=str(i))
        ctx.emit("tool_call_requested", id="t1", name="search", args={})
        return m.TurnOutcome([{"role": "assistant", "content": "ok"}], "ok")

    svc = make_service(ScriptedAgent([chatty, RuntimeError("boom"), "plain"]))
    s = svc.create_session(m.CreateSessionRequest())
    stream = svc.subscribe_session_events(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("one"))
    with pytest.raises(m.AgentError):
        svc.start_turn(s.id, m.StartTurnRequest("two"))
    svc.start_turn(s.id, m.StartTurnRequest("three"))
    events = drain(stream, 6 + 2 + 3)
    assert [e.seq for e in events] == list(range(1, 12))
    types = [e.type for e in events]
    assert types == [
        "run_started", "text_delta", "text_delta", "text_delta", "tool_call_requested", "run_completed",
        "run_started", "run_failed",
        "run_started", "text_delta", "run_completed",
    ]
    assert "boom" in events[7].data["error"]


def test_per_turn_on_event_sink(make_service):
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest())
    stream = svc.subscribe_session_events(s.id)
    got: list[m.EventEnvelope] = []
    svc.start_turn(s.id, m.StartTurnRequest("a", on_event=got.append))
    assert got == drain(stream, 3)  # the same envelopes

    def broken(_):
        raise RuntimeError("sink gone")

    assert svc.start_turn(s.id, m.StartTurnRequest("b", on_event=broken)).text == "echo: b"  # a broken sink does not fail the turn
    assert [e.seq for e in drain(stream, 3)] == [4, 5, 6]


def test_a_lagging_subscriber_gets_one_stream_truncated_then_continues(make_service):
    def flood(ctx):
        for i in range(300):
            ctx.emit("text_delta", delta=str(i))
        return m.TurnOutcome([{"role": "assistant", "content": "flooded"}], "flooded")

    svc = make_service(ScriptedAgent([flood, "next"]))
    s = svc.create_session(m.CreateSessionRequest())
    slow = svc.subscribe_session_events(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("go"))  # 302 events, the buffer holds 256
    marker = slow.next(1)
    assert marker.type == "stream_truncated" and marker.data == {"skipped": 302 - 256}
    rest = drain(slow, 256)
    assert [e.seq for e in rest] == list(range(47, 303))
    assert rest[-1].type == "run_completed"
    assert marker.seq <= rest[0].seq  # this subscriber's seqs never go backwards
    svc.start_turn(s.id, m.StartTurnRequest("again"))
    after = drain(slow, 3)
    assert [(e.type, e.seq) for e in after] == [("run_started", 303), ("text_delta", 304), ("run_completed", 305)]  # no second marker


@pytest.mark.parametrize("how", ["discard", "archive", "shutdown"])
def test_the_stream_ends_when_the_session_stops_being_live(make_service, how):
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest())
    stream = svc.subscribe_session_events(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("x"))
    reader = InThread(lambda: [e.type for e in stream])
    time.sleep(0.05)
    assert not reader.done()  # live: the iterator waits for more
    {"discard": lambda: svc.discard_live_session(s.id), "archive": lambda: svc.archive(s.id), "shutdown": svc.shutdown}[how]()
    assert reader.result(5) == ["run_started", "text_delta", "run_completed"]  # buffered events, then the end
    with pytest.raises(StopIteration):
        stream.next(0.1)


def test_stream_not_found_unless_live(persistent):
    svc = persistent()
    with pytest.raises(m.StreamNotFound) as ei:
        svc.subscribe_session_events(m.new_id())
    assert ei.value.code == "STREAM_NOT_FOUND"
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="x"))
    svc.shutdown()
    svc2 = persistent()
    with pytest.raises(m.StreamNotFound):
        svc2.subscribe_session_events(s.id)  # persisted only
    svc2.create_session(m.CreateSessionRequest(session_id=s.id))
    stream = svc2.subscribe_session_events(s.id)  # live again after revive
    svc2.start_turn(s.id, m.StartTurnRequest("y"))
    assert stream.next(2).type == "run_started"


def test_subscribe_for_a_mob_bound_session(persistent):
    """Item 52: a bound (mob member) session can be subscribed; envelopes carry its mob id."""
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(binding=m.MobBinding("mob-7", "worker", "w1")))
    stream = svc.subscribe_session_events(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("hi"))
    events = drain(stream, 3)
    assert {e.mob_id for e in events} == {"mob-7"}
    assert events[0].type == "run_started" and events[-1].type == "run_completed"


def test_two_subscribers_each_get_everything_from_when_they_subscribed(make_service):
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest())
    early = svc.subscribe_session_events(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("1"))
    late = svc.subscribe_session_events(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("2"))
    assert [e.seq for e in drain(early, 6)] == [1, 2, 3, 4, 5, 6]
    assert [e.seq for e in drain(late, 3)] == [4, 5, 6]
    late.close()
    svc.start_turn(s.id, m.StartTurnRequest("3"))
    assert list(late) == []  # closed: nothing more
    assert [e.seq for e in drain(early, 3)] == [7, 8, 9]


def test_async_iteration_ends_with_the_session(make_service):
    svc = make_service()
    s = svc.create_session(m.CreateSessionRequest())
    stream = svc.subscribe_session_events(s.id)

    async def main() -> list[str]:
        async def consume() -> list[str]:
            return [e.type async for e in stream]

        task = asyncio.create_task(consume())
        await asyncio.to_thread(svc.start_turn, s.id, m.StartTurnRequest("x"))
        await asyncio.to_thread(svc.discard_live_session, s.id)
        return await asyncio.wait_for(task, 5)

    assert asyncio.run(main()) == ["run_started", "text_delta", "run_completed"]
