"""One turn: the agent runs on the caller's thread, the session's actor commits what it returned.

The agent sees a copy of the session with the staged context in place, and may emit events
and watch ``ctx.cancelled``. Whatever it does, the caller gets either the committed turn's
receipt or a :class:`~mob_actors.SessionError` saying why nothing was recorded. The turn's
events (``run_started``, then ``run_completed`` or ``run_failed``) go to the session's stream.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..core import decide, requests
from ..core.errors import AgentError, CallbackPending, InvalidRequest, SessionBusy, SessionError
from ..core.ids import new_id
from ..core.model import (
    Agent,
    CoreApplyOutput,
    EventEnvelope,
    PendingToolCall,
    RunApplyBoundary,
    RunResult,
    StartTurnRequest,
    TurnContext,
    TurnOutcome,
)
from ..core.state import SessionState
from ..core.tools import tool_results
from .actor import CommitTurn, TurnCommitted
from .residency import LiveSession, Residency
from .streams import EventHub

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]


def run_turn(
    agent: Agent, residency: Residency, live: LiveSession, run_id: str, req: StartTurnRequest, boundary: RunApplyBoundary,
    input_ids: list[str], *, repeat: Callable[[int], CoreApplyOutput] | None = None,
) -> CoreApplyOutput:
    """Run one turn of a live session and commit it; ``SessionBusy`` if one is already running.

    With ``repeat``, ``run_id`` is applied at most once: if it is already committed (at seq N),
    the answer is ``repeat(N)`` and the agent does not run. Checked under the turn lock, so a
    repeat that arrives while the first run is still going gets ``SessionBusy``, not a second run.
    """
    if not live.turn_lock.acquire(blocking=False):
        raise SessionBusy(live.id)
    try:
        if repeat is not None:
            seq = decide.committed_seq(residency.current(live), run_id)
            if seq is not None:
                return repeat(seq)
        return run_locked(agent, residency, live, run_id, req, boundary, list(input_ids))
    finally:
        live.cancel = None
        live.turn_lock.release()
        residency.trim()  # sessions busy when others spawned may have kept us over max_resident


def run_locked(
    agent: Agent, residency: Residency, live: LiveSession, run_id: str, req: StartTurnRequest | None, boundary: RunApplyBoundary,
    input_ids: list[str],
) -> CoreApplyOutput:
    """Run the agent and commit its turn; the caller holds the turn lock. ``req`` None continues
    the paused run (its run id and boundary) with the tool results it has."""
    session_id = live.id
    cancel = live.cancel = threading.Event()
    state = residency.current(live)
    if req is None:
        assert state.pending is not None
        run_id, boundary = state.pending["run_id"], RunApplyBoundary(state.pending["boundary"])
        emit = emitter(live.hub, session_id, None)
        emit("run_resumed", {"session_id": session_id, "run_id": run_id})
    else:
        decide.check_turn(state, req)
        emit = emitter(live.hub, session_id, req.on_event)
        emit("run_started", {"session_id": session_id, "run_id": run_id, "prompt": req.prompt})
    try:
        outcome = run_agent(agent, state, req, emit, cancel, run_id)
        # Only the context staged before the turn started goes in (the agent saw that much).
        committed: TurnCommitted = residency.ask(live, CommitTurn(
            run_id, req or _CONTINUE, boundary, input_ids, outcome, len(state.staged_context), resume=req is None,
        ))
    except BaseException as e:
        emit("run_failed", {"session_id": session_id, "run_id": run_id, "error": str(e)})
        raise
    if committed.callback is None:
        assert isinstance(outcome, TurnOutcome)
        result = RunResult(outcome.text, dict(outcome.usage or {}), committed.receipt.message_count)
        emit("run_completed", {"session_id": session_id, "run_id": run_id, "result": outcome.text, "usage": result.usage})
        return CoreApplyOutput(committed.receipt, committed.snapshot, result, result)
    calls = committed.callback["calls"]
    added = decide.pause_messages(outcome) if isinstance(outcome, PendingToolCall) else outcome.messages
    pending = paused_terminal(run_id, calls, decide.before_pause(added, calls))
    emit("run_completed", {"session_id": session_id, "run_id": run_id, "callback_pending": pending.tool_name, "call_ids": pending.call_ids})
    return CoreApplyOutput(committed.receipt, committed.snapshot, None, pending)


_CONTINUE = StartTurnRequest("")  # the request a continuation's CommitTurn carries (unused by it)


def paused_terminal(run_id: str, calls: Sequence[dict[str, Any]], messages: Sequence[dict[str, Any]] = ()) -> PendingToolCall:
    """The terminal of a run waiting for ``calls`` (the first names the tool)."""
    first = calls[0]
    return PendingToolCall(first["name"], dict(first["arguments"]), tuple(messages), first["id"], tuple(calls), run_id)


def emitter(hub: EventHub, session_id: str, on_event: Callable[[EventEnvelope], None] | None) -> Emit:
    """``emit(type, data)`` for one turn: to the session's subscribers and the request's ``on_event``."""
    if on_event is None:
        return hub.publish_quiet  # builds an envelope only when someone subscribes

    def emit(type_: str, data: dict[str, Any]) -> None:
        envelope = hub.publish(type_, data)
        try:
            on_event(envelope)
        except Exception:  # a broken per-turn sink must not fail the turn
            log.warning("on_event callback of session %s raised; ignoring it", session_id, exc_info=True)

    return emit


def check_agent(agent: object) -> Agent:
    """``agent`` if it has a callable ``run_turn``; else ``InvalidRequest`` saying what to pass."""
    if inspect.isclass(agent):
        hint = " (it has run_turn: pass an instance, e.g. {0}(), not the class)" if callable(getattr(agent, "run_turn", None)) else ""
        raise InvalidRequest(f"the agent must be an object with a run_turn(ctx) method, got the class {agent.__name__}{hint.format(agent.__name__)}")
    if not callable(getattr(agent, "run_turn", None)):
        raise InvalidRequest(
            f"the agent must be an object with a callable run_turn(ctx) -> TurnOutcome, got {type(agent).__name__} {agent!r:.60}"
        )
    return agent  # type: ignore[return-value]  # checked just above: it has a callable run_turn


def run_agent(
    agent: Agent, state: SessionState, request: StartTurnRequest | None, emit: Emit, cancel: threading.Event, run_id: str = "",
) -> TurnOutcome | PendingToolCall:
    """Run the agent for one turn of ``state`` (``request`` None: continue its paused run with the
    tool results it has); the agent's outcome, or the tool call it paused on (named).

    Raises ``AgentError`` if the agent failed, was interrupted or returned something else or
    malformed (checked here, on the caller's thread, so the session's actor never sees it); a
    ``SessionError`` the agent raised itself passes through.
    """
    session = state.to_session()
    if request is None:  # a continuation: the conversation ends with the tool results
        results = tool_results(state)
        request = StartTurnRequest("")
        ctx = TurnContext(session, request, emit, cancel, messages=list(session.messages), tool_results=results, run_id=run_id)
    else:
        session.messages.extend(state.staged_context)  # it lands before this turn's user message
        ctx = TurnContext(session, request, emit, cancel, messages=[*session.messages, decide.user_message(request)], run_id=run_id)
    outcome: object
    try:
        outcome = agent.run_turn(ctx)
    except CallbackPending as paused:
        outcome = paused.pending
    except SessionError:
        raise
    except Exception as e:
        raise AgentError(f"session {state.id}: the agent failed: {e!r}", session_id=state.id) from e
    if cancel.is_set():
        raise AgentError(f"session {state.id}: the turn was interrupted; nothing was recorded", session_id=state.id)
    if isinstance(outcome, BaseException) and isinstance(outcome, CallbackPending):  # returned, not raised: the same pause
        outcome = outcome.pending
    if not isinstance(outcome, (TurnOutcome, PendingToolCall)):
        raise AgentError(f"session {state.id}: the agent returned {type(outcome).__name__}, expected TurnOutcome", session_id=state.id)
    outcome = requests.outcome(state.id, outcome)
    if isinstance(outcome, PendingToolCall) and not outcome.call_id:
        outcome = dataclasses.replace(outcome, call_id="call_" + new_id())  # the host answers it by this id
    return outcome
