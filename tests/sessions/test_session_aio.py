"""AsyncSessionService: the same methods as coroutines, never blocking the event loop."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import mob_actors as m
from mob_actors.aio import AsyncSessionService
from mob_actors.testing import ScriptedAgent


def test_methods_are_coroutines_and_a_held_turn_does_not_block_the_loop(persistent):
    agent = ScriptedAgent(default="async ok")
    svc = persistent(agent)
    a = AsyncSessionService(svc)
    assert a.supports_persistent_sessions() is True and a.runtime_adapter() is svc.runtime_adapter()
    assert inspect.iscoroutinefunction(a.start_turn)

    async def main() -> tuple[int, int, m.RunResult]:
        s = await a.create_session(m.CreateSessionRequest())
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        tick_task = asyncio.create_task(ticker())
        agent.hold.clear()
        turn = asyncio.create_task(a.start_turn(s.id, m.StartTurnRequest("q")))
        await asyncio.to_thread(agent.entered.wait, 5)
        ticks_at_entry = ticks
        await asyncio.sleep(0.2)  # the turn is held; the loop must keep running
        # other calls work meanwhile, also as coroutines
        assert (await a.read(s.id)).messages == []
        with pytest.raises(m.SessionBusy):
            await a.start_turn(s.id, m.StartTurnRequest("again"))
        assert await a.append_system_context(s.id, "staged ctx") == "staged"
        ticks_while_held = ticks - ticks_at_entry
        assert not turn.done()
        agent.hold.set()
        result = await asyncio.wait_for(turn, 5)
        tick_task.cancel()
        page = await a.read_history(s.id, 0, 1)
        assert page.has_more and page.message_count == 2
        assert [r.id for r in await a.list_sessions()] == [s.id]
        assert await a.has_live_session(s.id) is True
        assert await a.checkpoint(s.id) is True
        await a.cancel_all_checkpointers()
        assert await a.checkpoint(s.id) is False
        await a.rearm_all_checkpointers()
        out = await a.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("r"), "immediate", [])
        assert out.receipt.message_count == 5  # the staged context landed before this turn's user message
        assert (await a.load_persisted_session(s.id)).messages == (await a.read(s.id)).messages
        assert await a.session_belongs_to_mob(s.id, "nope") is False
        stream = await a.subscribe_session_events(s.id)
        await a.discard_live_session(s.id)
        assert [e async for e in stream] == []
        await a.create_session(m.CreateSessionRequest(session_id=s.id))
        await a.archive(s.id)
        with pytest.raises(m.SessionNotRunning):
            await a.interrupt((await a.create_session(m.CreateSessionRequest())).id)
        await a.shutdown()
        return ticks_while_held, ticks_at_entry, result

    ticks_while_held, _, result = asyncio.run(main())
    assert result.text == "async ok"
    assert ticks_while_held >= 10  # ~40 expected in 0.2 s; a blocked loop would give 0
    with pytest.raises(AttributeError):
        _ = AsyncSessionService(svc).no_such_method
