"""Deciding what tool results, cancelled calls and the continuation of a paused run record.

A turn pauses when the agent leaves tool calls for the host to run (``turn_applied`` with a
``callback`` naming them; the state's ``pending``). Each result is then recorded on its own
(``tool_result_submitted``), durable before the agent sees it; once every call has its result,
the run continues under the same run id (:func:`continuation`). Or the host ends the pause
(:func:`cancel`). Pure, like :mod:`.decide`: no I/O, no clock, the state is not changed.
"""

from __future__ import annotations

import json
from typing import Any

import journal

from . import events as ev
from .decide import turn_events
from .errors import InvalidRequest, UnknownToolCall
from .messages import MessageShapeError, check_message
from .model import PendingToolCall, RunApplyBoundary, TurnOutcome
from .state import SessionState


def tool_content(result: object, session_id: str) -> Any:
    """A tool message's ``content`` for ``result``: a string or a list of parts as given, any other
    JSON value as its JSON text. Raises ``InvalidRequest`` for anything else."""
    if isinstance(result, str):
        return result
    if isinstance(result, list):
        try:
            check_message({"role": "tool", "content": result, "tool_call_id": "x"}, "result")
        except MessageShapeError as e:
            raise InvalidRequest(f"session {session_id}: a list result is a list of content parts, and {e}", session_id=session_id) from None
        return result
    try:
        return json.dumps(result, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidRequest(
            f"session {session_id}: a tool result must be a string, a list of parts or a JSON value; {type(result).__name__} is not ({e})",
            session_id=session_id,
        ) from None


def tool_message(call_id: str, content: Any, is_error: bool) -> dict[str, Any]:
    message = {"role": "tool", "tool_call_id": call_id, "content": content}
    if is_error:
        message["is_error"] = True
    return message


def check_call_id(state: SessionState, call_id: object) -> str:
    """``call_id`` if the paused run waits for it or it was answered; else ``UnknownToolCall``."""
    waiting = list(state.pending["open"]) if state.pending else []
    if not isinstance(call_id, str) or (call_id not in waiting and call_id not in state.answered):
        raise UnknownToolCall(state.id, call_id, waiting)
    return call_id


def submit(state: SessionState, call_id: str, content: Any, is_error: bool, input_id: str | None, now: int) -> list[journal.Event]:
    """The result of an open call; nothing for one already answered (a repeated submit)."""
    check_call_id(state, call_id)
    if state.pending is None or call_id not in state.pending["open"]:
        return []
    message = tool_message(call_id, content, bool(is_error))
    digest = state.digest.copy()
    try:
        digest.extend((message,))
    except (TypeError, ValueError, RecursionError) as e:
        raise InvalidRequest(f"session {state.id}: the tool result cannot be encoded as JSON ({e})", session_id=state.id) from None
    return [ev.TOOL_RESULT_SUBMITTED(
        run_id=state.pending["run_id"], tool_call_id=call_id, message=message, input_id=input_id,
        digest=digest.hexdigest(), message_count=len(state.messages) + 1, at_ms=now,
    )]


def accept(state: SessionState, input_id: str, call_id: str, content: Any, is_error: bool, now: int) -> list[journal.Event]:
    """A tool result into the ledger; nothing if the input is known or the call already has one waiting."""
    if input_id in state.inputs:
        return []
    check_call_id(state, call_id)
    if state.pending is None or call_id not in state.pending["open"]:
        raise InvalidRequest(f"session {state.id}: tool call {call_id!r} already has its result; nothing was accepted", session_id=state.id)
    if waiting_input(state, call_id) is not None:
        return []
    return [ev.TOOL_RESULT_ACCEPTED(input_id=input_id, tool_call_id=call_id, content=content, is_error=bool(is_error), at_ms=now)]


def waiting_input(state: SessionState, call_id: str) -> str | None:
    """The accepted, unconsumed ledger input that carries ``call_id``'s result, if any."""
    for input_id, rec in state.inputs.items():
        if rec.get("tool_call_id") == call_id and rec["state"] == "accepted":
            return input_id
    return None


def cancel(state: SessionState, reason: str, now: int) -> list[journal.Event]:
    """End the paused run: a tool message (is_error) for each call still open; refused if none is paused."""
    if state.pending is None:
        raise InvalidRequest(f"session {state.id} has no paused turn; there are no tool calls to cancel", session_id=state.id)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidRequest("the reason for cancelling must be a non-empty string", session_id=state.id)
    open_ids = list(state.pending["open"])
    messages = [tool_message(i, f"(not run: {reason.strip()})", True) for i in open_ids]
    digest = state.digest.copy()
    digest.extend(messages)
    return [ev.TOOL_CALLS_CANCELLED(
        run_id=state.pending["run_id"], call_ids=open_ids, messages=messages, reason=reason.strip(),
        digest=digest.hexdigest(), message_count=len(state.messages) + len(messages), at_ms=now,
    )]


def ready_to_continue(state: SessionState) -> bool:
    """True when a paused run has every result and waits for the agent to continue it."""
    return state.pending is not None and not state.pending["open"]


def tool_results(state: SessionState) -> list[dict[str, Any]]:
    """The tool messages at the end of the conversation (what a continuation answers)."""
    results: list[dict[str, Any]] = []
    for message in reversed(state.messages):
        if message.get("role") != "tool":
            break
        results.append(message)
    return results[::-1]


def continuation(
    state: SessionState, *, outcome: TurnOutcome | PendingToolCall, count_sequence: bool, now: int,
) -> list[journal.Event]:
    """The ``turn_applied`` that continues the paused run once every call has its result."""
    p = state.pending
    if p is None or p["open"]:
        raise InvalidRequest(f"session {state.id} has no paused run ready to continue", session_id=state.id)
    return turn_events(
        state, run_id=p["run_id"], boundary=RunApplyBoundary(p["boundary"]), prefix=[], outcome=outcome,
        system_prompt=None, input_ids=[], count_sequence=count_sequence, now=now,
    )
