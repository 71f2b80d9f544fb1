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


class CallbackPending(AgentError, metaclass=abc.ABCMeta):
    """Raised by an agent to pause a turn until the result of a tool call arrives.

    It carries the turn's terminal, a :class:`~mob_actors.PendingToolCall` (``.pending``), which
    the service records and returns as ``CoreApplyOutput.terminal``; ``start_turn`` raises it
    again, naming the session. A ``PendingToolCall`` counts as an instance of this class (it is
    registered as a virtual subclass), so hosts that check
    ``isinstance(out.terminal, CallbackPending)`` keep working; ``except CallbackPending`` still
    catches only the exception.
    """

    pending: PendingToolCall

    def __init__(
        self, tool_name: str, args: Mapping[str, Any] | None = None, messages: Iterable[dict[str, Any]] = (),
        *, session_id: str | None = None,
    ) -> None:
        super().__init__(f"turn paused: waiting for the result of tool {tool_name!r}", session_id=session_id)
        self.pending = PendingToolCall(tool_name, dict(args or {}), tuple(messages))

    @classmethod
    def of(cls, pending: PendingToolCall, session_id: str | None = None) -> CallbackPending:
        """The exception that carries ``pending`` (what ``start_turn`` raises for a paused turn)."""
        return cls(pending.tool_name, pending.args, pending.messages, session_id=session_id)

    @property
    def tool_name(self) -> str:
        """The tool whose result the turn waits for."""
        return self.pending.tool_name

    @property
    def tool_args(self) -> dict[str, Any]:
        """The tool's arguments (also ``args``)."""
        return self.pending.args

    # ``args`` is the tool's arguments. BaseException.__init__ would overwrite a plain attribute
    # with the message tuple (and its setter turns a dict into a tuple of keys), so it is a property.
    @property  # type: ignore[override]
    def args(self) -> dict[str, Any]:
        """The tool's arguments."""
        return self.pending.args

    @args.setter
    def args(self, value: object) -> None:
        BaseException.args.__set__(self, value)  # type: ignore[attr-defined]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The messages the agent added before it paused (recorded with the turn)."""
        return list(self.pending.messages)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).of, (self.pending, self.session_id))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (CallbackPending, PendingToolCall)):
            return (self.tool_name, self.args) == (other.tool_name, other.args)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.tool_name)

    def __repr__(self) -> str:
        return f"CallbackPending(tool_name={self.tool_name!r}, args={self.args!r})"


# The terminal of a paused turn used to be the exception itself; hosts still check it with isinstance.
CallbackPending.register(PendingToolCall)


class Unsupported(SessionError):
    """The request asks for something this session or service does not do."""

    code = "SESSION_UNSUPPORTED"


class InvalidRequest(SessionError):
    """A request argument is malformed (the message says which and why)."""

    code = "INVALID_PARAMS"


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
