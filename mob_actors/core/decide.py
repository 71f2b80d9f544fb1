"""Command handlers: given a session's state and a command, decide which events it produces.

Pure functions: no I/O, no clock (the caller passes ``now``), no mutation of the state. They raise
a :class:`SessionError` when the command is not allowed. The session actor persists what they
return and then applies it with :func:`mob_actors.state.evolve`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import journal

from . import events as ev
from .digest import RunningDigest
from .errors import AgentError, Conflict, InvalidAgentMessage, InvalidRequest, ToolResultPending, Unsupported
from .messages import MessageShapeError, check_messages, open_tool_calls
from .model import (
    CoreApplyOutput,
    CreateSessionRequest,
    PendingToolCall,
    RunApplyBoundary,
    RunBoundaryReceipt,
    RunResult,
    StartTurnRequest,
    TurnOutcome,
)
from .state import SessionState


def create(session_id: str, req: CreateSessionRequest, now: int) -> list[journal.Event]:
    """The ``session_created`` event of a new session."""
    messages = [{"role": "system", "content": req.system_prompt}] if req.system_prompt else []
    return [
        ev.SESSION_CREATED(
            session_id=session_id,
            created_at_ms=now,
            messages=messages,
            metadata=dict(req.metadata or {}),
            labels=dict(req.labels or {}),
            binding=req.binding.to_dict() if req.binding else None,
            forked_from=None,
        )
    ]


def revive(state: SessionState, now: int) -> list[journal.Event]:
    """The ``session_revived`` event that makes a stored session live again."""
    return [ev.SESSION_REVIVED(at_ms=now)]


def check_turn(state: SessionState, req: StartTurnRequest) -> None:
    """Refuse a turn request before the agent runs."""
    if not isinstance(req.prompt, str):
        raise InvalidRequest(f"prompt must be a str, got {type(req.prompt).__name__}", session_id=state.id)
    if state.pending is not None:
        raise ToolResultPending(state.id, state.pending["run_id"], list(state.pending["open"]))
    if req.system_prompt is not None and not state.deferred:
        raise Unsupported(
            f"session {state.id}: system_prompt override is only allowed on a deferred session's first turn",
            session_id=state.id,
        )


def user_message(req: StartTurnRequest) -> dict[str, Any]:
    """The user message of a turn: the additional instructions as notices, then the prompt."""
    notices = "".join(f"[SYSTEM NOTICE: {text}]\n\n" for text in req.additional_instructions)
    return {"role": "user", "content": notices + req.prompt}


def turn(
    state: SessionState,
    *,
    run_id: str,
    req: StartTurnRequest,
    boundary: RunApplyBoundary,
    input_ids: list[str],
    outcome: TurnOutcome | PendingToolCall,
    count_sequence: bool,
    now: int,
    staged_count: int | None = None,
) -> list[journal.Event]:
    """The event of a finished (or paused) turn, with the digest its receipt will carry.

    ``staged_count`` is how much staged context there was when the turn started: context staged
    while this turn ran waits for the next turn (None: all of it).
    """
    check_turn(state, req)
    staged = state.staged_context if staged_count is None else state.staged_context[:staged_count]
    return turn_events(
        state, run_id=run_id, boundary=boundary, prefix=[*staged, user_message(req)], outcome=outcome,
        system_prompt=req.system_prompt, input_ids=input_ids, count_sequence=count_sequence, now=now,
    )


def pause_messages(pending: PendingToolCall) -> list[dict[str, Any]]:
    """The messages of a turn paused with ``CallbackPending``: the agent's, with the call on the last
    assistant message (or on a new one); the call must have been named (``call_id``)."""
    call = {"id": pending.call_id, "name": pending.tool_name, "arguments": dict(pending.args)}
    messages = list(pending.messages)
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant" and not last.get("tool_calls"):
        messages[-1] = {**last, "tool_calls": [call]}
    else:
        messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
    return messages


def before_pause(messages: list[dict[str, Any]], calls: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """A paused turn's agent messages without its open calls (a ``PendingToolCall`` holds those in
    ``calls``): what a ``CallbackPending`` carried, whether the pause is answered live or repeated."""
    out = list(messages)
    open_ids = {c["id"] for c in calls}
    last = out[-1] if out else None
    if isinstance(last, dict) and last.get("role") == "assistant" and last.get("tool_calls"):
        kept = [c for c in last["tool_calls"] if c.get("id") not in open_ids]
        rest = {k: v for k, v in last.items() if k != "tool_calls"}
        if kept:
            out[-1] = {**rest, "tool_calls": kept}
        elif set(rest) == {"role", "content"} and rest["content"] in ("", None):
            out.pop()
        else:
            out[-1] = rest
    return tuple(out)


def turn_events(
    state: SessionState, *, run_id: str, boundary: RunApplyBoundary, prefix: list[dict[str, Any]],
    outcome: TurnOutcome | PendingToolCall, system_prompt: str | None, input_ids: list[str], count_sequence: bool, now: int,
) -> list[journal.Event]:
    """The ``turn_applied`` of a turn (``prefix``: what precedes the agent's messages) or of the
    continuation of a paused run (no prefix). It pauses when the agent's calls stay unanswered."""
    if isinstance(outcome, PendingToolCall):
        added, text, usage = pause_messages(outcome), "", {}
    else:
        added, text, usage = outcome.messages, outcome.text, outcome.usage or {}
    if not isinstance(added, list):
        raise InvalidAgentMessage(state.id, "messages", f"must be a list of messages, got {type(added).__name__}")
    messages = [*prefix, *added]
    if system_prompt is not None:
        base = [{"role": "system", "content": system_prompt}, *(
            state.messages[1:] if state.messages and state.messages[0].get("role") == "system" else state.messages
        )]
        digest = RunningDigest(base)
        count = len(base)
    else:
        digest = state.digest.copy()
        count = len(state.messages)
    try:
        digest.extend(messages)
    except (TypeError, ValueError, RecursionError) as e:
        # Refused here, before anything is written: bad agent output must not crash the session.
        raise AgentError(
            f"session {state.id}: the agent returned messages that cannot be encoded as JSON ({e}); nothing was recorded",
            session_id=state.id,
        ) from e
    still_open = _check_agent_messages(state, added)
    callback = None
    if still_open:
        callback = {"tool_name": still_open[0]["name"], "args": dict(still_open[0]["arguments"]), "calls": still_open}
    return [
        ev.TURN_APPLIED(
            run_id=run_id,
            boundary=RunApplyBoundary(boundary).value,
            messages=messages,
            system_prompt=system_prompt,
            text=None if messages and messages[-1].get("content") == text else text,  # see events.turn_text
            usage=dict(usage),
            contributing_input_ids=list(input_ids),
            sequence=state.run_sequences.get(run_id, 0) if count_sequence else 0,
            digest=digest.hexdigest(),
            message_count=count + len(messages),
            callback=callback,
            at_ms=now,
        )
    ]


def _check_agent_messages(state: SessionState, added: list[Any]) -> list[dict[str, Any]]:
    """Hold what the agent returned to the message shape; the calls it leaves for the host to run."""
    try:
        check_messages(added)
        still_open = open_tool_calls(added)
    except MessageShapeError as e:
        raise InvalidAgentMessage(state.id, e.field, e.problem) from None
    return [{"id": c["id"], "name": c["name"], "arguments": dict(c["arguments"])} for c in still_open]


def committed_seq(state: SessionState, run_id: str) -> int | None:
    """The seq of the turn ``run_id`` committed on this session, or None if it never committed.

    A turn applied *once* per request id (``apply_runtime_turn(..., once=True)``) asks this first:
    a committed one is answered from the journal, the agent does not run again.
    """
    return state.run_last_seq.get(run_id)


def receipt_of(data: Mapping[str, Any]) -> RunBoundaryReceipt:
    """The receipt that a ``turn_applied`` event's data stands for."""
    return RunBoundaryReceipt(
        run_id=data["run_id"],
        boundary=RunApplyBoundary(data["boundary"]),
        contributing_input_ids=tuple(data["contributing_input_ids"]),
        conversation_digest=data["digest"],
        message_count=data["message_count"],
        sequence=data["sequence"],
    )


def stored_output(data: Mapping[str, Any], session_snapshot: bytes) -> CoreApplyOutput:
    """What a committed turn answered, rebuilt from its ``turn_applied`` data (for a repeated
    request); ``session_snapshot`` is the session as that turn left it."""
    receipt = receipt_of(data)
    callback = data["callback"]
    if callback is None:
        result = RunResult(ev.turn_text(dict(data)), dict(data["usage"] or {}), data["message_count"])
        return CoreApplyOutput(receipt, session_snapshot, result, result)
    # The agent's own messages follow the staged context (system) and the user message.
    added = list(data["messages"])
    users = [i for i, m in enumerate(added) if m.get("role") == "user"]
    agent_messages = added[users[0] + 1:] if users else added
    calls = list(callback.get("calls") or ())
    pending = PendingToolCall(
        callback["tool_name"], callback["args"], before_pause(agent_messages, calls), calls[0]["id"] if calls else "", tuple(calls), data["run_id"],
    )
    return CoreApplyOutput(receipt, session_snapshot, None, pending)


def append_context(
    state: SessionState, text: str, source: str | None, key: str | None, staged: bool, now: int
) -> tuple[list[journal.Event], str]:
    """System context: ``("applied" | "staged" | "duplicate")`` and the events for it."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("system context text must be a non-empty string", session_id=state.id)
    text = text.strip()
    if key is not None and key in state.context_keys:
        if state.context_keys[key] == [text, source]:
            return [], "duplicate"
        raise Conflict(
            f"session {state.id}: idempotency key {key!r} was already used with different text or source; use a new key",
            session_id=state.id,
        )
    event = ev.CONTEXT_APPENDED(text=text, source=source, idempotency_key=key, staged=staged, at_ms=now)
    return [event], "staged" if staged else "applied"


def accept_input(state: SessionState, input_id: str, content: str, now: int) -> list[journal.Event]:
    """The ``input_accepted`` event for a new input (none for a known id)."""
    if not isinstance(content, str) or not content:
        raise InvalidRequest("input content must be a non-empty string", session_id=state.id)
    if input_id in state.inputs:
        return []
    return [ev.INPUT_ACCEPTED(input_id=input_id, content=content, at_ms=now)]


def checkpoint(state: SessionState, now: int) -> list[journal.Event]:
    """The event that follows a snapshot taken at ``state.seq``."""
    return [ev.CHECKPOINTED(snapshot_seq=state.seq, digest=state.digest.hexdigest(), message_count=len(state.messages), at_ms=now)]


def archive(state: SessionState, now: int) -> list[journal.Event]:
    """The ``archived`` event: the session's last."""
    return [ev.ARCHIVED(at_ms=now)]


def discard(state: SessionState, now: int) -> list[journal.Event]:
    """The ``discarded`` event: the live actor goes, the history stays."""
    return [ev.DISCARDED(at_ms=now)]


