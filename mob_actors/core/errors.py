"""Errors of the session services and mobs: one tree under :class:`Error`.

Every error carries a stable ``.code`` that hosts can match on without parsing messages.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from typing import Any, Self

from .model import PendingToolCall


class Error(Exception):
    """Root of every error that :mod:`mob_actors` raises; catch it to catch them all."""

    code = "MOB_ACTORS_ERROR"


class SessionError(Error):
    """Base of the session service errors. ``session_id`` names the session the error is about
    (None when it is about no one session, e.g. a service that was shut down)."""

    code = "SESSION_ERROR"
    session_id: str | None

    def __init__(self, message: str = "", *, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


class SessionNotFound(SessionError):
    """The session is unknown, or not live where a live one is needed (``session_id`` names it)."""

    code = "SESSION_NOT_FOUND"
    session_id: str

    def __init__(self, session_id: str, detail: str = "") -> None:
        super().__init__(f"session {session_id} not found{': ' + detail if detail else ''}", session_id=session_id)


class SessionBusy(SessionError):
    """The session is already running a turn; wait for it or interrupt it."""

    code = "SESSION_BUSY"
    session_id: str

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} is already running a turn; wait for it or interrupt() it", session_id=session_id)


class PersistenceDisabled(SessionError):
    """The ephemeral service keeps no history of what was asked for; use the persistent service."""

    code = "SESSION_PERSISTENCE_DISABLED"


class SessionNotRunning(SessionError):
    """``interrupt`` found no turn running."""

    code = "SESSION_NOT_RUNNING"
    session_id: str

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} has no turn running; nothing to interrupt", session_id=session_id)


class StoreError(SessionError):
    """The store refused a write or could not rebuild a session; nothing was recorded."""

    code = "SESSION_STORE_ERROR"


class ReplayMismatch(StoreError):
    """Replaying the journal does not give what it recorded (a digest or count differs)."""

    session_id: str

    def __init__(self, session_id: str, seq: int, what: str, recorded: object, replayed: object) -> None:
        super().__init__(
            f"session {session_id} seq {seq}: replayed {what} {replayed!r} differs from the recorded {recorded!r}; "
            "the journal may be damaged or written by incompatible code (run `mob-replay verify`)",
            session_id=session_id,
        )
        self.seq = seq
        self.what = what  # "digest" or "message_count"
        self.recorded = recorded
        self.replayed = replayed


class CorruptEvent(StoreError):
    """A stored event decodes but breaks its type's schema (a missing field, a wrong type, an
    unknown type); ``stream``, ``seq``, ``event_type`` and ``field`` (None when not one field) say
    which. The session (or mob) it belongs to cannot be rebuilt past it; the others are unaffected.
    """

    code = "CORRUPT_EVENT"

    def __init__(self, stream: str, seq: int | None, event_type: object, problem: str, field: str | None = None) -> None:
        where = f"{stream} seq {seq}" if seq is not None else stream
        super().__init__(
            f"{where}: the {event_type!r} event is damaged: {problem}; restore the journal from a backup, "
            "or export what is readable (`mob-replay verify` lists every damaged record)",
            session_id=stream.partition(":")[2] if stream.startswith("session:") else None,
        )
        self.stream = stream
        self.seq = seq
        self.event_type = event_type
        self.field = field

    @classmethod
    def from_error(cls, stream: str, seq: int | None, event_type: object, error: BaseException) -> Self:
        """The error for an event whose data made applying it raise ``error`` (a KeyError names the field)."""
        if isinstance(error, KeyError) and error.args and isinstance(error.args[0], str):
            return cls(stream, seq, event_type, f"it has no field {error.args[0]!r}", field=error.args[0])
        problem = str(error) if isinstance(error, Error) else f"{type(error).__name__}: {error}"
        return cls(stream, seq, event_type, problem)


class ServiceShutDown(SessionError):
    """The session service was shut down: nothing can be read or changed through it any more."""

    code = "SESSION_SERVICE_SHUT_DOWN"

    def __init__(self) -> None:
        super().__init__("the session service was shut down; create a new service (the journal keeps every session)")


class AgentError(SessionError):
    """The agent failed, was interrupted or returned something unusable; nothing was recorded."""

    code = "AGENT_ERROR"


class InvalidAgentMessage(AgentError):
    """The agent returned a message that is not of the documented shape; nothing was recorded.

    ``field`` names it as ``messages[i].<field>``, counted in what the agent returned.
    """

    session_id: str

    def __init__(self, session_id: str, field: str, problem: str) -> None:
        super().__init__(
            f"session {session_id}: the agent returned a bad message: {field} {problem}; nothing was recorded "
            "(the message shape is in mob_actors/core/messages.py)",
            session_id=session_id,
        )
        self.field = field
        self.problem = problem


class CallbackPending(AgentError, metaclass=abc.ABCMeta):
    """Raised by an agent to pause a turn until the host has run a tool and sent its result.

    ``CallbackPending(tool_name, arguments, messages=(), call_id=None)``: the turn is recorded
    with ``messages`` and an assistant tool-call message for this call (its ``tool_calls`` are
    added to the last of ``messages`` when that is an assistant message without calls); the
    service names the call (``call_id``) when the agent does not. Returning messages that end
    with an unanswered assistant tool call pauses the same way.

    It carries the turn's terminal, a :class:`~mob_actors.PendingToolCall` (``.pending``), which
    the service returns as ``CoreApplyOutput.terminal``; ``start_turn`` raises it again, naming
    the session. The call's arguments are ``arguments`` (also ``tool_args``); ``args`` is the
    standard exception tuple. A ``PendingToolCall`` counts as an instance of this class (it is
    registered as a virtual subclass), so hosts that check
    ``isinstance(out.terminal, CallbackPending)`` keep working; ``except CallbackPending`` still
    catches only the exception.
    """

    pending: PendingToolCall

    def __init__(
        self, tool_name: str, arguments: Mapping[str, Any] | None = None, messages: Iterable[dict[str, Any]] = (),
        *, call_id: str | None = None, session_id: str | None = None,
    ) -> None:
        super().__init__(f"turn paused: waiting for the result of tool {tool_name!r}", session_id=session_id)
        self.pending = PendingToolCall(tool_name, dict(arguments or {}), tuple(messages), call_id or "")

    @classmethod
    def of(cls, pending: PendingToolCall, session_id: str | None = None) -> CallbackPending:
        """The exception that carries ``pending`` (what ``start_turn`` raises for a paused turn)."""
        e = cls(pending.tool_name, pending.args, pending.messages, call_id=pending.call_id, session_id=session_id)
        e.pending = pending
        return e

    @property
    def tool_name(self) -> str:
        """The tool whose result the turn waits for."""
        return self.pending.tool_name

    @property
    def arguments(self) -> dict[str, Any]:
        """The tool call's arguments."""
        return self.pending.args

    @property
    def tool_args(self) -> dict[str, Any]:
        """The tool call's arguments (the same as ``arguments``)."""
        return self.pending.args

    @property
    def call_id(self) -> str:
        """The id of the pending call ('' until the service has named it)."""
        return self.pending.call_id

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The messages the agent added before it paused (recorded with the turn)."""
        return list(self.pending.messages)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).of, (self.pending, self.session_id))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (CallbackPending, PendingToolCall)):
            return (self.tool_name, self.arguments) == (other.tool_name, other.arguments)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.tool_name)

    def __repr__(self) -> str:
        return f"CallbackPending(tool_name={self.tool_name!r}, arguments={self.arguments!r})"


class ToolResultPending(SessionError):
    """A new turn was asked for while a paused turn still waits for tool results.

    Answer the calls with ``submit_tool_result`` (``call_ids`` names them), or end them with
    ``cancel_tool_calls`` and then start the turn.
    """

    code = "TOOL_RESULT_PENDING"
    session_id: str

    def __init__(self, session_id: str, run_id: str, call_ids: list[str]) -> None:
        if call_ids:
            what = f"tool call(s) {', '.join(call_ids)} of run {run_id} wait for their results"
        else:
            what = f"run {run_id} has all its tool results but did not continue (submit one of them again to continue it)"
        super().__init__(
            f"session {session_id}: {what}; answer them with submit_tool_result(), or cancel_tool_calls() first",
            session_id=session_id,
        )
        self.run_id = run_id
        self.call_ids = list(call_ids)


# The terminal of a paused turn used to be the exception itself; hosts still check it with isinstance.
CallbackPending.register(PendingToolCall)


class Unsupported(SessionError):
    """The request asks for something this session or service does not do."""

    code = "SESSION_UNSUPPORTED"


class InvalidRequest(SessionError):
    """A request argument is malformed (the message says which and why)."""

    code = "INVALID_PARAMS"


class UnknownToolCall(InvalidRequest):
    """A tool result names a call the session never made (or a call of another session)."""

    code = "UNKNOWN_TOOL_CALL"
    session_id: str

    def __init__(self, session_id: str, tool_call_id: object, pending: list[str]) -> None:
        waiting = f"the calls waiting are {', '.join(pending)}" if pending else "no tool call is waiting for a result"
        super().__init__(f"session {session_id} made no tool call {tool_call_id!r}; {waiting}", session_id=session_id)
        self.tool_call_id = tool_call_id


class Conflict(SessionError):
    """An idempotency key was reused with different system context."""

    code = "SESSION_SYSTEM_CONTEXT_CONFLICT"


class StreamError(Error):
    """Base of event-stream errors."""

    code = "STREAM_ERROR"


class StreamNotFound(StreamError):
    """No live event stream for that session (it is not live)."""

    code = "STREAM_NOT_FOUND"

    def __init__(self, message: str = "", *, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


class MobError(Error):
    """Base of mob errors."""

    code = "MOB_ERROR"


class MobOwnedElsewhere(MobError):
    """Another host serves this mob now: it holds the mob's ownership lock in the shared journal.

    ``owner`` names it (host name and pid) when the journal can tell. The lock ends with the
    owner's connection, so once that host is gone the next ``runtime.mob(mob_id)`` takes it over;
    ``runtime.mob(mob_id, wait=seconds)`` waits for that.
    """

    code = "MOB_OWNED_ELSEWHERE"

    def __init__(self, mob_id: str, owner: object | None, lost: str = "") -> None:
        self.mob_id = mob_id
        self.owner = owner
        if lost:
            super().__init__(f"mob {mob_id!r}: {lost}; {'it is served by ' + str(owner) if owner else 'nobody holds it now'}. "
                             f"runtime.mob({mob_id!r}) takes it again once it is free")
            return
        who = f"by {owner}" if owner is not None else "by another host (it is releasing it, or its owner is not visible)"
        super().__init__(f"mob {mob_id!r} is served {who}; ask that host, or wait for it to end: runtime.mob({mob_id!r}, wait=seconds)")


class InvalidTransition(MobError):
    """A mob operation is not allowed in the mob's current state."""

    def __init__(self, from_state: object, to_state: object, detail: str = "") -> None:
        self.from_state = from_state
        self.to_state = to_state
        name = getattr(from_state, "name", from_state)
        target = getattr(to_state, "name", to_state)
        super().__init__(f"invalid mob transition {name} -> {target}{': ' + detail if detail else ''}")


class CorruptMobEvent(CorruptEvent, MobError):
    """A mob event that breaks the schema (see :class:`CorruptEvent`): that mob cannot be resumed."""

    code = "CORRUPT_MOB_EVENT"
