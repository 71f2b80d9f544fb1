"""One turn: the agent runs on the caller's thread, the session's actor commits what it returned.

The agent sees a copy of the session with the staged context in place, and may emit events
and watch ``ctx.cancelled``. Whatever it does, the caller gets either the committed turn's
receipt or a :class:`~mob_actors.SessionError` saying why nothing was recorded. The turn's
events (``run_started``, then ``run_completed`` or ``run_failed``) go to the session's stream.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..core import decide, requests
from ..core.errors import AgentError, CallbackPending, SessionBusy, SessionError
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
    session_id = live.id
    if not live.turn_lock.acquire(blocking=False):
        raise SessionBusy(session_id)
    try:
        cancel = live.cancel = threading.Event()
        state = residency.current(live)
        if repeat is not None:
            seq = decide.committed_seq(state, run_id)
            if seq is not None:
                return repeat(seq)
        decide.check_turn(state, req)
        emit = emitter(live.hub, session_id, req.on_event)
        emit("run_started", {"session_id": session_id, "run_id": run_id, "prompt": req.prompt})
        try:
            outcome = run_agent(agent, state, req, emit, cancel)
            # Only the context staged before the turn started goes in (the agent saw that much).
            committed: TurnCommitted = residency.ask(
                live, CommitTurn(run_id, req, boundary, input_ids, outcome, len(state.staged_context))
            )
        except BaseException as e:
            emit("run_failed", {"session_id": session_id, "run_id": run_id, "error": str(e)})
            raise
        if isinstance(outcome, TurnOutcome):
            result = RunResult(outcome.text, dict(outcome.usage or {}), committed.receipt.message_count)
            emit("run_completed", {"session_id": session_id, "run_id": run_id, "result": outcome.text, "usage": result.usage})
            return CoreApplyOutput(committed.receipt, committed.snapshot, result, result)
        emit("run_completed", {"session_id": session_id, "run_id": run_id, "callback_pending": outcome.tool_name})
        return CoreApplyOutput(committed.receipt, committed.snapshot, None, outcome)
    finally:
        live.cancel = None
        live.turn_lock.release()
        residency.trim()  # sessions busy when others spawned may have kept us over max_resident


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


def run_agent(agent: Agent, state: SessionState, request: StartTurnRequest, emit: Emit, cancel: threading.Event) -> TurnOutcome | PendingToolCall:
    """Run the agent for one turn of ``state``; its outcome, or the tool call it paused on.

    Raises ``AgentError`` if the agent failed, was interrupted or returned something else or
    malformed (checked here, on the caller's thread, so the session's actor never sees it); a
    ``SessionError`` the agent raised itself passes through.
    """
    session = state.to_session()
    session.messages.extend(state.staged_context)  # it lands before this turn's user message
    ctx = TurnContext(session, request, emit, cancel)
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
    return requests.outcome(state.id, outcome)
