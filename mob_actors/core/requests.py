"""Checking what a host or an agent hands a session service, at the door and before any agent call.

Each function returns the value normalised for storage (tuples become lists, see
:mod:`~mob_actors.core.values`) or raises the library's own error naming the argument and what was
expected: :class:`InvalidRequest` for a host's request, :class:`AgentError` for what an agent
returned. Nothing here coerces: ``system_prompt=123`` is refused, not stored as ``"123"``.
Pure: no I/O.

Only new data is checked (a turn's request and the agent's outcome, never the history), so the
cost of a turn does not grow with the conversation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .errors import AgentError, InvalidRequest
from .model import CreateSessionRequest, MobBinding, PendingToolCall, RunApplyBoundary, StartTurnRequest, TurnOutcome
from .values import BadValue, check_optional_text, check_text, clean, clean_dict


def create_request(req: object) -> CreateSessionRequest:
    """``req`` checked and normalised (metadata and labels deep-copied, tuples as lists)."""
    if not isinstance(req, CreateSessionRequest):
        raise InvalidRequest(f"create_session expects a CreateSessionRequest, got {type(req).__name__}")
    try:
        check_optional_text(req.session_id, "CreateSessionRequest.session_id")
        check_optional_text(req.initial_prompt, "CreateSessionRequest.initial_prompt")
        check_optional_text(req.system_prompt, "CreateSessionRequest.system_prompt")
        metadata = clean_dict(req.metadata, "CreateSessionRequest.metadata")
        labels = clean_dict(req.labels, "CreateSessionRequest.labels")
        binding(req.binding, "CreateSessionRequest.binding")
    except BadValue as e:
        raise InvalidRequest(str(e), session_id=req.session_id if isinstance(req.session_id, str) else None) from None
    return dataclasses.replace(req, metadata=metadata, labels=labels)


def binding(value: object, what: str) -> MobBinding | None:
    """``value`` if it is None or a :class:`MobBinding` of three strings; else ``BadValue``."""
    if value is None:
        return None
    if not isinstance(value, MobBinding):
        raise BadValue(f"{what} must be a MobBinding or None, got {type(value).__name__}")
    for field in ("mob_id", "profile", "member_id"):
        if not check_text(getattr(value, field), f"{what}.{field}"):
            raise BadValue(f"{what}.{field} must not be empty")
    return value


def turn_request(req: object, session_id: str) -> StartTurnRequest:
    """``req`` checked: a :class:`StartTurnRequest` with a str prompt, str instructions, and so on."""
    if not isinstance(req, StartTurnRequest):
        raise InvalidRequest(f"a turn expects a StartTurnRequest, got {type(req).__name__}", session_id=session_id)
    try:
        check_text(req.prompt, "StartTurnRequest.prompt")
        check_optional_text(req.system_prompt, "StartTurnRequest.system_prompt")
        instructions = req.additional_instructions
        if not isinstance(instructions, (tuple, list)):
            raise BadValue(
                f"StartTurnRequest.additional_instructions must be a tuple of str (() for none), got {type(instructions).__name__}"
            )
        for i, text in enumerate(instructions):
            check_text(text, f"StartTurnRequest.additional_instructions[{i}]")
        if req.on_event is not None and not callable(req.on_event):
            raise BadValue(f"StartTurnRequest.on_event must be callable or None, got {type(req.on_event).__name__}")
    except BadValue as e:
        raise InvalidRequest(str(e), session_id=session_id) from None
    return req if type(instructions) is tuple else dataclasses.replace(req, additional_instructions=tuple(instructions))


def run_id(value: object, session_id: str) -> str:
    """A run id: a non-empty str."""
    try:
        if not check_text(value, "run_id"):
            raise BadValue("run_id must not be empty")
    except BadValue as e:
        raise InvalidRequest(str(e), session_id=session_id) from None
    assert isinstance(value, str)
    return value


def boundary(value: object, session_id: str) -> RunApplyBoundary:
    """A turn's apply boundary: a :class:`RunApplyBoundary` or its value."""
    try:
        return RunApplyBoundary(value)
    except ValueError:
        raise InvalidRequest(
            f"boundary must be one of {[b.value for b in RunApplyBoundary]}, got {value!r}", session_id=session_id
        ) from None


def input_ids(value: object, session_id: str) -> list[str]:
    """``contributing_input_ids``: a list (or tuple) of str; ``[]`` for none."""
    if not isinstance(value, (list, tuple)):
        raise InvalidRequest(
            f"contributing_input_ids must be a list of input ids ([] for none), got {type(value).__name__}", session_id=session_id
        )
    try:
        return [check_text(v, f"contributing_input_ids[{i}]") for i, v in enumerate(value)]
    except BadValue as e:
        raise InvalidRequest(str(e), session_id=session_id) from None


def text_arg(value: object, what: str, session_id: str) -> str:
    """A str argument, refused with ``InvalidRequest`` naming ``what``."""
    try:
        return check_text(value, what)
    except BadValue as e:
        raise InvalidRequest(str(e), session_id=session_id) from None


def optional_text_arg(value: object, what: str, session_id: str) -> str | None:
    """A str or None argument, refused with ``InvalidRequest`` naming ``what``."""
    try:
        return check_optional_text(value, what)
    except BadValue as e:
        raise InvalidRequest(str(e), session_id=session_id) from None


def outcome(session_id: str, value: TurnOutcome | PendingToolCall) -> TurnOutcome | PendingToolCall:
    """What an agent returned, checked and normalised; ``AgentError`` says what is wrong (nothing is recorded)."""
    try:
        if isinstance(value, PendingToolCall):
            tool_name = check_text(value.tool_name, "CallbackPending.tool_name")
            args = clean_dict(value.args, "CallbackPending.args")
            return PendingToolCall(tool_name, args, tuple(_messages(value.messages, "CallbackPending.messages")), value.call_id)
        messages = _messages(value.messages, "TurnOutcome.messages")
        text = check_text(value.text, "TurnOutcome.text")
        usage: dict[str, Any] | None = clean_dict(value.usage, "TurnOutcome.usage") if value.usage is not None else None
    except BadValue as e:
        raise AgentError(
            f"session {session_id}: the agent returned an outcome that cannot be encoded as JSON and stored ({e}); nothing was recorded",
            session_id=session_id,
        ) from None
    return TurnOutcome(messages, text, usage)


def _messages(value: object, what: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise BadValue(f"{what} must be a list of message dicts, got {type(value).__name__}")
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise BadValue(f"{what}[{i}] must be a dict, got {type(message).__name__}")
        out.append(clean(message, f"{what}[{i}]"))
    return out
