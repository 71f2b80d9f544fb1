"""The public data types of the session services (what hosts pass in and get back)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgpack

from .messages import unanswered_calls

Message = dict[str, Any]  # {"role": "system"|"user"|"assistant"|"tool", "content": ..., **extra}: see core/messages.py


@dataclass(frozen=True)
class MobBinding:
    """Which mob member a session is."""

    mob_id: str
    profile: str
    member_id: str

    def to_dict(self) -> dict[str, Any]:
        """The binding as stored in ``session_created``."""
        return {"mob_id": self.mob_id, "profile": self.profile, "member_id": self.member_id}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> MobBinding | None:
        """The binding a stored dict describes (None stays None)."""
        return None if d is None else cls(d["mob_id"], d["profile"], d["member_id"])


@dataclass
class Session:
    """A session as its events replay to. ``messages`` is the whole conversation.

    ``pending_tool_calls`` are the tool calls of a paused turn still waiting for their results
    (``{id, name, arguments}``; empty when no turn is paused): answer them with
    ``submit_tool_result`` or end them with ``cancel_tool_calls``.
    """

    id: str
    messages: list[Message] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    binding: MobBinding | None = None
    created_at_ms: int = 0
    updated_at_ms: int = 0
    archived: bool = False

    @property
    def pending_tool_calls(self) -> list[dict[str, Any]]:
        """The calls of the last assistant message that have no tool result yet (a paused turn)."""
        return unanswered_calls(self.messages)

    @property
    def awaiting_tool_result(self) -> bool:
        """True while a paused turn waits for tool results (see ``pending_tool_calls``)."""
        return bool(self.pending_tool_calls)

    def to_dict(self) -> dict[str, Any]:
        """The session as a plain dict (format version 1)."""
        return {
            "version": 1,
            "id": self.id,
            "messages": self.messages,
            "metadata": self.metadata,
            "labels": self.labels,
            "binding": self.binding.to_dict() if self.binding else None,
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            "archived": self.archived,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Session:
        """The session a :meth:`to_dict` dict describes; ``ValueError`` for an unknown format version."""
        if d.get("version", 1) != 1:
            raise ValueError(f"unknown Session format version {d.get('version')!r}; upgrade mob-actors to read it")
        return cls(
            id=d["id"],
            messages=list(d["messages"]),
            metadata=dict(d["metadata"]),
            labels=dict(d["labels"]),
            binding=MobBinding.from_dict(d.get("binding")),
            created_at_ms=d["created_at_ms"],
            updated_at_ms=d["updated_at_ms"],
            archived=d["archived"],
        )

    def to_bytes(self) -> bytes:
        """msgpack of :meth:`to_dict` (the ``session_snapshot`` of a :class:`CoreApplyOutput`)."""
        packed: bytes = msgpack.packb(self.to_dict(), use_bin_type=True)
        return packed

    @classmethod
    def from_bytes(cls, raw: bytes) -> Session:
        """The session :meth:`to_bytes` encoded."""
        return cls.from_dict(msgpack.unpackb(raw, raw=False, strict_map_key=False))


@dataclass(frozen=True)
class SessionSummary:
    """One row of :meth:`list_sessions`."""

    id: str
    message_count: int
    created_at_ms: int
    updated_at_ms: int
    labels: dict[str, Any]
    binding: MobBinding | None
    is_live: bool
    #: Why the session cannot be read (its stored events are damaged); None for a healthy one.
    error: str | None = None


@dataclass(frozen=True)
class HistoryPage:
    """One page of ``read_history``: messages ``offset`` to ``offset + len(messages)`` of ``message_count``."""

    session_id: str
    message_count: int
    offset: int
    limit: int | None
    has_more: bool
    messages: list[Message]


@dataclass(frozen=True)
class CreateSessionRequest:
    """Create a session. ``initial_prompt=None`` makes a deferred session (no turn yet);
    a ``session_id`` with durable history revives that session (same id, full history, no agent call)."""

    session_id: str | None = None
    initial_prompt: str | None = None
    system_prompt: str | None = None
    metadata: dict[str, Any] | None = None
    labels: dict[str, Any] | None = None
    binding: MobBinding | None = None


@dataclass(frozen=True)
class StartTurnRequest:
    """One turn. ``system_prompt`` is only allowed on a deferred session's first turn."""

    prompt: str
    system_prompt: str | None = None
    additional_instructions: tuple[str, ...] = ()
    on_event: Callable[[EventEnvelope], None] | None = None


class RunApplyBoundary(str, enum.Enum):  # noqa: UP042  # not StrEnum: str() of a member must stay as it was
    """Where in a run a runtime turn is applied (recorded in its receipt)."""

    IMMEDIATE = "immediate"
    RUN_START = "run_start"
    RUN_CHECKPOINT = "run_checkpoint"


@dataclass(frozen=True)
class RunBoundaryReceipt:
    """Proof of an applied turn.

    ``conversation_digest`` is the lowercase hex SHA-256 of the session's ``messages`` list encoded
    as canonical JSON: keys sorted, separators ``,`` and ``:``, UTF-8, no ASCII escaping, i.e.
    ``hashlib.sha256(json.dumps(messages, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False).encode()).hexdigest()``. ``sequence`` counts earlier applies of the same
    ``run_id`` on this session (0 first; always 0 on the ephemeral service).
    """

    run_id: str
    boundary: RunApplyBoundary
    contributing_input_ids: tuple[str, ...]
    conversation_digest: str
    message_count: int
    sequence: int


@dataclass(frozen=True)
class RunResult:
    """What ``start_turn`` returns: the reply text, usage, and the message count after the turn."""

    text: str
    usage: dict[str, Any]
    message_count: int


class _BytesOnFirstRead:
    """A frozen dataclass field holding bytes, or a function that renders them when first read.

    Serialising the whole session for every turn cost more the longer the session was, while
    most callers never look at the bytes; they are rendered once, on first read, from a view of
    the session taken when the turn committed.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_value"

    def __get__(self, obj: object, owner: type | None = None) -> bytes:
        if obj is None:
            raise AttributeError("no default")  # a required field for the dataclass
        value: bytes | Callable[[], bytes] = obj.__dict__[self._slot]
        if isinstance(value, bytes):
            return value
        rendered = obj.__dict__[self._slot] = value()  # two readers at once render the same bytes
        return rendered

    def __set__(self, obj: object, value: bytes | Callable[[], bytes]) -> None:
        if self._slot in obj.__dict__:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {self._slot[1:-6]!r}")
        obj.__dict__[self._slot] = value


@dataclass(frozen=True)
class CoreApplyOutput:
    """What ``apply_runtime_turn`` returns; ``terminal`` is the RunResult (also ``run_result``) or,
    for a turn the agent paused on a tool call, a :class:`PendingToolCall`.

    ``session_snapshot`` is ``Session.to_bytes()`` of the session right after the turn; it is
    computed when first read (the constructor takes the bytes or a function giving them).
    """

    receipt: RunBoundaryReceipt
    session_snapshot: _BytesOnFirstRead = _BytesOnFirstRead()
    # mypy takes the descriptor above for a default; dataclasses does not (its __get__ on the
    # class raises AttributeError), so these stay required positional fields.
    run_result: RunResult | None  # type: ignore[misc]
    terminal: RunResult | PendingToolCall  # type: ignore[misc]


@dataclass(frozen=True)
class EventEnvelope:
    """One streamed session event; ``seq`` counts per session from 1 and never resets."""

    event_id: str
    source_id: str
    seq: int
    timestamp_ms: int
    type: str
    data: dict[str, Any]
    mob_id: str | None = None


@dataclass(frozen=True)
class TurnOutcome:
    """What an agent returns: the messages it adds after the user message, and its reply text."""

    messages: list[Message]
    text: str
    usage: dict[str, Any] | None = None


@dataclass(frozen=True)
class InputState:
    """An input in the runtime adapter's ledger."""

    input_id: str
    session_id: str
    state: str  # "accepted" or "consumed"
    content: Any  # a prompt (str); for a tool result, its content (str or a list of parts)
    run_id: str | None = None
    sequence: int | None = None
    tool_call_id: str | None = None  # set for a tool result (``accept_tool_result``)


@dataclass(frozen=True)
class PendingToolCall:
    """The terminal of a turn that paused on tool calls the host runs.

    The turn is recorded with the assistant's tool-call message; ``calls`` are every call still
    waiting for a result (``{id, name, arguments}``), and ``tool_name``/``arguments``/``call_id``
    name the first of them. The host runs them and answers with ``submit_tool_result(session_id,
    call_id, result)``, which continues the same run (``run_id``). ``messages`` are the messages
    the agent added in the paused turn, without the open calls (those are ``calls``). ``isinstance(p, CallbackPending)`` is True for it (see
    :class:`~mob_actors.CallbackPending`).
    """

    tool_name: str
    args: dict[str, Any] = field(default_factory=dict)
    messages: tuple[Message, ...] = ()
    # Named by the service as it records the pause; equality ignores them (a pause is its call).
    call_id: str = field(default="", compare=False)
    calls: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    run_id: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Copies, so that the agent's later changes to what it passed cannot alter the record.
        object.__setattr__(self, "args", dict(self.args))
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "calls", tuple(dict(c) for c in self.calls))

    @property
    def arguments(self) -> dict[str, Any]:
        """The first pending call's arguments (the same dict as ``args``)."""
        return self.args

    @property
    def call_ids(self) -> list[str]:
        """The ids of every call still waiting for its result."""
        return [c["id"] for c in self.calls]

    def __hash__(self) -> int:  # args is a dict: hash by name, equality compares everything
        return hash(self.tool_name)


class Cancellation(Protocol):
    """A turn's cancellation flag, set by ``interrupt`` (the service passes a ``threading.Event``)."""

    def is_set(self) -> bool:
        """True once the turn was interrupted."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Block until interrupted or ``timeout`` seconds passed; True if interrupted."""
        ...


class TurnContext:
    """What an agent gets for one turn (see "Writing an agent" in the README).

    - ``messages``: the conversation to answer, ready for a model call: the history (with any
      staged system context) plus this turn's user message; on a continuation after tool results,
      the history ending with those results (no new user message).
    - ``session``: a copy of the session as committed before this turn (``session.messages`` is
      the history without this turn's user message).
    - ``request``: the :class:`StartTurnRequest` (on a continuation, one with an empty prompt).
    - ``tool_results``: the tool messages this continuation answers (empty on a fresh turn).
    - ``run_id``: the run this turn belongs to (a continuation keeps its run's id).
    - ``emit(type, **data)`` streams an event; ``cancelled`` is set by ``interrupt`` (an agent
      should stop soon after; nothing of an interrupted turn is recorded).

    What the agent returns (:class:`TurnOutcome`) is checked like any stored data (JSON-like
    values, no NaN, at most ``mob_actors.core.values.MAX_DEPTH`` levels deep) and its messages
    against the message shape (:mod:`mob_actors.core.messages`).
    """

    def __init__(
        self, session: Session, request: StartTurnRequest, emit: Callable[[str, dict[str, Any]], None], cancelled: Cancellation,
        *, messages: list[Message] | None = None, tool_results: list[Message] | None = None, run_id: str = "",
    ) -> None:
        self.session = session
        self.request = request
        self._emit = emit
        self.cancelled = cancelled
        self.messages: list[Message] = list(session.messages) if messages is None else messages
        self.tool_results: list[Message] = list(tool_results or ())
        self.run_id = run_id

    @property
    def resuming(self) -> bool:
        """True when this call continues a paused run with tool results."""
        return bool(self.tool_results)

    def emit(self, type: str, **data: Any) -> None:
        """Stream an event (e.g. ``text_delta``) to the session's subscribers."""
        self._emit(type, data)


class Agent(Protocol):
    """The pluggable part: anything with ``run_turn``. To have the host run a tool, end the
    returned messages with an assistant message whose ``tool_calls`` have no result yet (or
    raise :class:`CallbackPending`): the turn pauses until ``submit_tool_result``."""

    def run_turn(self, ctx: TurnContext) -> TurnOutcome:
        """Run one turn: return the messages the agent adds (after ``ctx.messages``) and its reply."""
        ...
