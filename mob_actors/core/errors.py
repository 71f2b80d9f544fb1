"""Errors of the session services and mobs: one tree under :class:`Error`.

Every error carries a stable ``.code`` that hosts can match on without parsing messages.
"""

from __future__ import annotations


class Error(Exception):
    """Root of every error that :mod:`mob_actors` raises; catch it to catch them all."""

    code = "MOB_ACTORS_ERROR"


class SessionError(Error):
    """Base of the session service errors."""

    code = "SESSION_ERROR"


class SessionNotFound(SessionError):
    code = "SESSION_NOT_FOUND"

    def __init__(self, session_id: str, detail: str = "") -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id} not found{': ' + detail if detail else ''}")


class SessionBusy(SessionError):
    code = "SESSION_BUSY"

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id} is already running a turn; wait for it or interrupt() it")


class PersistenceDisabled(SessionError):
    code = "SESSION_PERSISTENCE_DISABLED"


class SessionNotRunning(SessionError):
    code = "SESSION_NOT_RUNNING"

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id} has no turn running; nothing to interrupt")


class StoreError(SessionError):
    code = "SESSION_STORE_ERROR"


class AgentError(SessionError):
    code = "AGENT_ERROR"


class CallbackPending(AgentError):
    """Raised by an agent to pause a turn until a tool result arrives; also the turn's terminal."""

    def __init__(self, tool_name: str, args: dict | None = None, messages: list[dict] | tuple = ()) -> None:
        super().__init__(f"turn paused: waiting for the result of tool {tool_name!r}")
        self.tool_name = tool_name
        self.tool_args = dict(args or {})
        self.messages = list(messages)

    # ``args`` is the tool's arguments. BaseException.__init__ would overwrite a plain attribute
    # with the message tuple (and its setter turns a dict into a tuple of keys), so it is a property.
    @property  # type: ignore[override]
    def args(self) -> dict:
        return self.tool_args

    @args.setter
    def args(self, value: object) -> None:
        BaseException.args.__set__(self, value)  # type: ignore[attr-defined]

    def __reduce__(self) -> tuple:
        return (type(self), (self.tool_name, self.tool_args, self.messages))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CallbackPending) and (self.tool_name, self.args) == (other.tool_name, other.args)

    def __hash__(self) -> int:
        return hash(self.tool_name)

    def __repr__(self) -> str:
        return f"CallbackPending(tool_name={self.tool_name!r}, args={self.args!r})"


class Unsupported(SessionError):
    code = "SESSION_UNSUPPORTED"


class InvalidRequest(SessionError):
    code = "INVALID_PARAMS"


class Conflict(SessionError):
    code = "SESSION_SYSTEM_CONTEXT_CONFLICT"


class StreamError(Error):
    """Base of event-stream errors."""

    code = "STREAM_ERROR"


class StreamNotFound(StreamError):
    code = "STREAM_NOT_FOUND"


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
