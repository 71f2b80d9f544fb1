"""Running one turn's agent on the caller's thread, and streaming the turn's events.

The agent sees a copy of the session with the staged context in place, and may emit events
and watch ``ctx.cancelled``. Whatever it does, the caller gets either an outcome to commit
or a :class:`~mob_actors.SessionError` saying why nothing was recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..core.errors import AgentError, CallbackPending, SessionError
from ..core.model import Agent, EventEnvelope, PendingToolCall, StartTurnRequest, TurnContext, TurnOutcome
from ..core.state import SessionState
from .streams import EventHub

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]


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

    Raises ``AgentError`` if the agent failed, was interrupted or returned something else; a
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
    return outcome
