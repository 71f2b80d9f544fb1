"""The one message shape of a conversation, and the checks that hold every message to it.

It is the chat-completions shape that model SDKs speak, so hosts convert to and from theirs
with a rename at most::

    {"role": "system" | "user" | "assistant" | "tool", "content": str | [part, ...], **extra}

- ``content`` is a string or a list of parts; a part is a dict with a non-empty string
  ``"type"`` (a ``"text"`` part carries a string ``"text"``). An assistant message that calls
  tools may have ``content`` None.
- An assistant message may carry ``tool_calls``: a non-empty list of
  ``{"id": str, "name": str, "arguments": dict}`` with ids unique in the conversation turn.
- A tool message carries ``tool_call_id``: the id of the call it answers.
- ``name`` is an optional string; any other key (``source``, ``is_error``, ...) is kept as is.

The checks raise :class:`MessageShapeError` naming the field (``messages[2].tool_calls[0].id``);
callers turn it into their own error: :class:`~mob_actors.AgentError` for what an agent returned,
:class:`~mob_actors.InvalidRequest` for what a host sent. Pure: no I/O, nothing is changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

ROLES = ("system", "user", "assistant", "tool")


class MessageShapeError(ValueError):
    """A message is not of the documented shape; ``field`` names the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def _kind(value: object) -> str:
    return type(value).__name__


def check_message(message: object, where: str = "message") -> None:
    """Refuse a message that is not of the documented shape (``where`` prefixes the field names)."""
    if not isinstance(message, dict):
        raise MessageShapeError(where, f"must be a dict, got {_kind(message)}")
    for key in message:
        if not isinstance(key, str):
            raise MessageShapeError(f"{where} key {key!r}", "must be a string")
    role = message.get("role")
    if role not in ROLES:
        raise MessageShapeError(f"{where}.role", f"must be one of {', '.join(ROLES)}; got {role!r}")
    if "content" not in message:
        raise MessageShapeError(f"{where}.content", "is missing (a string or a list of parts)")
    content = message["content"]
    if content is None:
        if not (role == "assistant" and message.get("tool_calls")):
            raise MessageShapeError(f"{where}.content", "may be None only on an assistant message with tool_calls")
    elif isinstance(content, list):
        for i, part in enumerate(content):
            _check_part(part, f"{where}.content[{i}]")
    elif not isinstance(content, str):
        raise MessageShapeError(f"{where}.content", f"must be a string or a list of parts, got {_kind(content)}")
    if "name" in message and not isinstance(message["name"], str):
        raise MessageShapeError(f"{where}.name", f"must be a string, got {_kind(message['name'])}")
    if "tool_calls" in message:
        if role != "assistant":
            raise MessageShapeError(f"{where}.tool_calls", f"is allowed only on assistant messages, not {role}")
        calls = message["tool_calls"]
        if not isinstance(calls, list) or not calls:
            raise MessageShapeError(f"{where}.tool_calls", "must be a non-empty list of {id, name, arguments}")
        seen: set[str] = set()
        for i, call in enumerate(calls):
            check_tool_call(call, f"{where}.tool_calls[{i}]")
            if call["id"] in seen:
                raise MessageShapeError(f"{where}.tool_calls[{i}].id", f"{call['id']!r} is used twice")
            seen.add(call["id"])
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise MessageShapeError(f"{where}.tool_call_id", f"must be a non-empty string (the id of the call answered), got {call_id!r}")
    elif "tool_call_id" in message:
        raise MessageShapeError(f"{where}.tool_call_id", f"is allowed only on tool messages, not {role}")


def check_tool_call(call: object, where: str) -> None:
    """Refuse a tool call that is not ``{"id": str, "name": str, "arguments": dict}``."""
    if not isinstance(call, dict):
        raise MessageShapeError(where, f"must be a dict {{id, name, arguments}}, got {_kind(call)}")
    for key in ("id", "name"):
        value = call.get(key)
        if not isinstance(value, str) or not value:
            raise MessageShapeError(f"{where}.{key}", f"must be a non-empty string, got {value!r}")
    if not isinstance(call.get("arguments"), dict):
        raise MessageShapeError(f"{where}.arguments", f"must be a dict (the decoded JSON arguments), got {_kind(call.get('arguments'))}")
    extra = set(call) - {"id", "name", "arguments", "type"}
    if extra:
        raise MessageShapeError(f"{where}", f"has unknown keys {sorted(extra)} (a call is {{id, name, arguments}})")


def _check_part(part: object, where: str) -> None:
    if not isinstance(part, dict):
        raise MessageShapeError(where, f"must be a dict with a 'type', got {_kind(part)}")
    kind = part.get("type")
    if not isinstance(kind, str) or not kind:
        raise MessageShapeError(f"{where}.type", f"must be a non-empty string, got {kind!r}")
    if kind == "text" and not isinstance(part.get("text"), str):
        raise MessageShapeError(f"{where}.text", f"must be a string in a text part, got {_kind(part.get('text'))}")


def check_messages(messages: object, where: str = "messages") -> None:
    """Refuse a list that is not a list of well-shaped messages (each checked alone)."""
    if not isinstance(messages, list):
        raise MessageShapeError(where, f"must be a list of messages, got {_kind(messages)}")
    for i, message in enumerate(messages):
        check_message(message, f"{where}[{i}]")


def open_tool_calls(messages: Sequence[dict[str, Any]], open_calls: Iterable[dict[str, Any]] = (), where: str = "messages") -> list[dict[str, Any]]:
    """The tool calls still waiting for a result after ``messages`` (in the order they were made).

    ``open_calls`` are the calls already waiting before them (a paused turn being continued).
    Every tool message must answer an open call, and a call must be answered before the next
    message that is not a tool result; only the calls of the last message may stay open (the
    turn then pauses on them). The messages must already be well shaped (:func:`check_messages`).
    """
    pending = {c["id"]: c for c in open_calls}
    seen = set(pending)
    made_at: str | None = "the paused turn" if pending else None
    for i, message in enumerate(messages):
        field = f"{where}[{i}]"
        if message["role"] == "tool":
            call_id = message["tool_call_id"]
            if call_id not in pending:
                raise MessageShapeError(f"{field}.tool_call_id", f"{call_id!r} answers no open tool call (open: {sorted(pending)})")
            del pending[call_id]
            continue
        if pending:
            raise MessageShapeError(field, f"follows tool calls {sorted(pending)} of {made_at} that have no result yet")
        for j, call in enumerate(message.get("tool_calls") or ()):
            if call["id"] in seen:
                raise MessageShapeError(f"{field}.tool_calls[{j}].id", f"{call['id']!r} was already used in this turn")
            seen.add(call["id"])
            pending[call["id"]] = call
        made_at = field
    return list(pending.values())


def unanswered_calls(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls of the last assistant message that no later tool message answers, when only
    tool messages follow it (the calls a paused turn waits for); else none."""
    answered: set[object] = set()
    for message in reversed(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            answered.add(message.get("tool_call_id"))
            continue
        if role == "assistant" and isinstance(message.get("tool_calls"), list):
            return [dict(c) for c in message["tool_calls"] if isinstance(c, dict) and c.get("id") not in answered]
        return []
    return []
