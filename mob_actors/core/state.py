"""A session's state and the one function that applies events to it.

``evolve(state, event) -> state`` is used by live turns and by replay alike, so what a live
session holds is exactly what replaying its journal gives. It does no I/O and looks at nothing
but its arguments. For speed it may reuse the containers of the state it is given: the caller
owns the state and must use the returned one from then on (live actors and replay both do).
One exception keeps cheap views possible: a messages list is only ever appended to; a change
to a message already in it puts a new list in place. It checks every digest an event records and raises :class:`ReplayMismatch` if it differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import events as ev
from .digest import RunningDigest
from .errors import CorruptEvent, StoreError
from .errors import ReplayMismatch as ReplayMismatch  # ReplayMismatch: its old home
from .model import InputState, MobBinding, Session

SNAPSHOT_FORMAT = 1


class EventLike(Protocol):
    """A journal ``Event`` (live) or ``RecordedEvent`` (replay): evolve needs only these two."""

    # Read-only members, so the frozen NamedTuple ``RecordedEvent`` satisfies the protocol too.
    @property
    def type(self) -> str:
        """The event type."""
        ...

    @property
    def data(self) -> Any:
        """The event payload."""
        ...


@dataclass
class SessionState:
    """Everything a session's events determine. ``seq`` is the last event applied."""

    id: str
    created_at_ms: int
    seq: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    binding: MobBinding | None = None
    updated_at_ms: int = 0
    archived: bool = False
    discarded: bool = False  # its live actor was dropped (until revived)
    deferred: bool = True  # no turn applied yet
    usage: dict[str, Any] = field(default_factory=dict)  # totals over all turns
    run_sequences: dict[str, int] = field(default_factory=dict)  # run_id -> applies so far
    # run_id -> seq of its last turn_applied: where a repeated request finds its stored result.
    # One int per run (like run_sequences); the result itself stays in the journal, not in memory.
    run_last_seq: dict[str, int] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # input_id -> {content, state, run_id, sequence}
    context_keys: dict[str, list[Any]] = field(default_factory=dict)  # idempotency_key -> [text, source]
    staged_context: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_seq: int = 0  # seq of the last snapshot
    # The paused run, if a turn paused on tool calls: {run_id, boundary, calls: [{id, name, arguments}], open: [ids]}.
    # Replaced, never changed in place (published views share it).
    pending: dict[str, Any] | None = None
    answered: dict[str, str] = field(default_factory=dict)  # tool_call_id -> run_id, results recorded
    forked_from: dict[str, Any] | None = None  # a fork's lineage (its session_created's forked_from)
    last_turn: dict[str, Any] | None = None  # the data of the last turn_applied (its receipt and result)
    digest: RunningDigest = field(default_factory=RunningDigest)

    # -- views ---------------------------------------------------------------------------------

    def to_session(self) -> Session:
        """A copy for readers: they may keep it while the state evolves."""
        return Session(
            id=self.id,
            messages=list(self.messages),
            metadata=dict(self.metadata),
            labels=dict(self.labels),
            binding=self.binding,
            created_at_ms=self.created_at_ms,
            updated_at_ms=self.updated_at_ms,
            archived=self.archived,
        )

    def open_calls(self) -> list[dict[str, Any]]:
        """The calls of the paused run still waiting for their results (empty if none is paused)."""
        p = self.pending
        if p is None:
            return []
        waiting = set(p["open"])
        return [dict(c) for c in p["calls"] if c["id"] in waiting]

    def lineage(self) -> dict[str, Any] | None:
        """Where this session was forked from: {source_id, seq, digest, message_count}, or None."""
        f = self.forked_from
        return None if f is None else {k: f[k] for k in ("source_id", "seq", "digest", "message_count")}

    def session_bytes(self) -> bytes:
        """``self.to_session().to_bytes()``: the session as the bytes a turn's receipt carries."""
        return self.session_bytes_later()()

    def session_bytes_later(self) -> Callable[[], bytes]:
        """A function that gives :meth:`session_bytes` as of now whenever it is called (cheap now).

        Every committed turn offers the whole session as bytes (``session_snapshot``), and
        serialising it per turn made each turn cost more the longer the conversation was. This
        keeps the messages list and its length instead of a copy: evolve only appends to a list,
        and puts a new list in place when it changes a message already in it (a system prompt
        put first), so the list's first ``count`` messages never change afterwards.
        """
        msgs, count = self.messages, len(self.messages)
        fields = (self.id, dict(self.metadata), dict(self.labels), self.binding, self.created_at_ms, self.updated_at_ms, self.archived)

        def render() -> bytes:
            id_, metadata, labels, binding, created, updated, archived = fields
            return Session(id_, msgs[:count], metadata, labels, binding, created, updated, archived).to_bytes()

        return render

    def pending_inputs(self) -> list[InputState]:
        """The accepted, not yet consumed inputs, in acceptance order."""
        return [self.input_state(i) for i, rec in self.inputs.items() if rec["state"] == "accepted"]

    def input_state(self, input_id: str) -> InputState:
        """The ledger state of one input of this session (it must be known)."""
        rec = self.inputs[input_id]
        return InputState(input_id, self.id, rec["state"], rec["content"], rec["run_id"], rec["sequence"], rec.get("tool_call_id"))

    def reader_copy(self) -> SessionState:
        """A copy readers may keep while this state evolves (containers copied one level deep).

        Except ``run_sequences`` and ``run_last_seq``, which grow by one entry per run and are
        only looked up by key (never iterated by readers), and gain an entry only once it is
        durable: views share them, since copying them for every published view made each turn
        cost more the more turns there had been.
        """
        return dataclasses.replace(
            self,
            messages=list(self.messages),
            metadata=dict(self.metadata),
            labels=dict(self.labels),
            usage=dict(self.usage),
            inputs=dict(self.inputs),
            context_keys=dict(self.context_keys),
            staged_context=list(self.staged_context),
            answered=dict(self.answered),
            digest=self.digest.copy(),
        )

    # -- snapshots -----------------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        """A msgpack-encodable dict; the running digest is rebuilt from the messages on load."""
        snapshot: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "id": self.id,
            "created_at_ms": self.created_at_ms,
            "seq": self.seq,
            "messages": self.messages,
            "metadata": self.metadata,
            "labels": self.labels,
            "binding": self.binding.to_dict() if self.binding else None,
            "updated_at_ms": self.updated_at_ms,
            "archived": self.archived,
            "deferred": self.deferred,
            "usage": self.usage,
            "run_sequences": self.run_sequences,
            "run_last_seq": self.run_last_seq,
            "inputs": self.inputs,
            "context_keys": self.context_keys,
            "staged_context": self.staged_context,
            "checkpoint_seq": self.checkpoint_seq,
            "pending": self.pending,
            "answered": self.answered,
            "forked_from": self.forked_from,
            # Without its messages (they are in "messages"), so with its reply text resolved.
            "last_turn": None if self.last_turn is None else {
                **{k: v for k, v in self.last_turn.items() if k != "messages"}, "text": ev.turn_text(self.last_turn),
            },
        }
        if self.discarded:  # only then: snapshots written before the field existed compare equal
            snapshot["discarded"] = True
        return snapshot

    @classmethod
    def from_snapshot(cls, d: dict[str, Any], digest: RunningDigest | None = None) -> SessionState:
        """The state a :meth:`to_snapshot` dict describes; ``StoreError`` for another format.

        ``digest``: the running digest of its messages when the caller already has it (a
        snapshot's parts stored as canonical JSON); otherwise it is computed from the messages.
        """
        if d.get("format") != SNAPSHOT_FORMAT:
            raise StoreError(f"snapshot format {d.get('format')!r} is not {SNAPSHOT_FORMAT}; it was written by another version")
        if "run_last_seq" not in d:
            # Written before turns could be applied once per request id: loading it would forget
            # which runs were committed, so recovery replays the session's events instead.
            raise StoreError("snapshot has no run_last_seq (written by an older version); replaying the events instead")
        fields = {k: v for k, v in d.items() if k != "format"}
        fields["binding"] = MobBinding.from_dict(d["binding"])
        state = cls(**fields)
        state.digest = digest if digest is not None and digest.count == len(state.messages) else RunningDigest(state.messages)
        return state


# -- evolve ----------------------------------------------------------------------------------------

Evolver = Callable[[SessionState, dict[str, Any], int], None]
_EVOLVERS: dict[str, Evolver] = {}


def _on(event_type: ev.EventType) -> Callable[[Evolver], Evolver]:
    def register(fn: Evolver) -> Evolver:
        _EVOLVERS[event_type.name] = fn
        return fn

    return register


#: What applying a damaged but decodable event raises (a missing field, a wrong type, data that is
#: not JSON, nesting too deep for the digest); evolve turns each into a CorruptEvent naming it.
_SCHEMA_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError)


def evolve(state: SessionState | None, event: EventLike) -> SessionState:
    """Apply one session event and return the new state (``None`` before ``session_created``).

    A stored event that breaks its type's schema raises :class:`CorruptEvent` (stream, seq, field).
    """
    try:
        return _evolve(state, event)
    except (_Damaged, *_SCHEMA_ERRORS) as e:
        session_id = state.id if state is not None else _created_id(event)
        seq = getattr(event, "seq", None) or (state.seq + 1 if state is not None else 1)
        stream = getattr(event, "stream_id", None) or ev.session_stream(session_id)
        if isinstance(e, _Damaged):
            raise CorruptEvent(stream, seq, event.type, str(e)) from None
        raise CorruptEvent.from_error(stream, seq, event.type, e) from e


class _Damaged(Exception):
    """Raised inside evolve for an event that is out of place; evolve adds where it is."""


def _created_id(event: EventLike) -> str:
    data = event.data
    session_id = data.get("session_id") if isinstance(data, dict) else None
    return session_id if isinstance(session_id, str) else "?"


def _evolve(state: SessionState | None, event: EventLike) -> SessionState:
    data = event.data
    if event.type == ev.SESSION_CREATED.name:
        if state is not None:
            raise _Damaged("a second session_created event in the stream")
        if not isinstance(data["session_id"], str) or not isinstance(data["created_at_ms"], int):
            raise _Damaged("session_id must be a str and created_at_ms an int")
        state = SessionState(
            id=data["session_id"],
            created_at_ms=data["created_at_ms"],
            messages=list(data["messages"]),
            metadata=dict(data["metadata"]),
            labels=dict(data["labels"]),
            binding=MobBinding.from_dict(data["binding"]),
            updated_at_ms=data["created_at_ms"],
        )
        forked = data.get("forked_from")
        if forked is not None:
            state.forked_from = forked
            state.pending = forked["pending"]
            state.deferred = forked["deferred"]
        state.digest = RunningDigest(state.messages)
        state.seq = 1
        return state
    if state is None:
        raise _Damaged("the stream starts with it, not with session_created")
    fn = _EVOLVERS.get(event.type)
    if fn is None:
        raise _Damaged("it is not a session event type this version knows")
    seq = state.seq + 1
    fn(state, data, seq)
    if "at_ms" in data:
        state.updated_at_ms = data["at_ms"]
    state.seq = seq  # last: a damaged event leaves seq at the one before it (its error names it)
    return state


@_on(ev.SESSION_REVIVED)
def _revived(state: SessionState, data: dict[str, Any], seq: int) -> None:
    state.archived = False
    state.discarded = False


@_on(ev.TURN_APPLIED)
def _turn_applied(state: SessionState, data: dict[str, Any], seq: int) -> None:
    if data["system_prompt"] is not None:
        # A new list, never a change to the old one: what was handed out of the old list (see
        # session_bytes_later, and the snapshot parts) keeps meaning what it meant.
        system = {"role": "system", "content": data["system_prompt"]}
        if state.messages and state.messages[0].get("role") == "system":
            state.messages = [system, *state.messages[1:]]
        else:
            state.messages = [system, *state.messages]
        state.digest = RunningDigest(state.messages)
    if type(data["messages"]) is not list:
        raise _Damaged(f"its messages are a {type(data['messages']).__name__}, not a list")
    state.messages.extend(data["messages"])
    state.digest.extend(data["messages"])
    # The turn's messages begin with the staged context it consumed (a prefix of staged_context;
    # the user message that follows is never equal to one); context staged later stays staged.
    consumed = 0
    added = data["messages"]
    while consumed < min(len(state.staged_context), len(added)) and added[consumed] == state.staged_context[consumed]:
        consumed += 1
    del state.staged_context[:consumed]
    _check(state, seq, data["digest"], data["message_count"])
    run_id, sequence = data["run_id"], data["sequence"]
    state.run_sequences[run_id] = max(state.run_sequences.get(run_id, 0), sequence + 1)
    state.run_last_seq[run_id] = seq
    for input_id in data["contributing_input_ids"]:
        rec = state.inputs.get(input_id)
        if rec is not None:  # a new dict, not an update: published views share the old one
            state.inputs[input_id] = {**rec, "state": "consumed", "run_id": run_id, "sequence": sequence}
    for key, value in (data["usage"] or {}).items():
        if isinstance(value, (int, float)):
            state.usage[key] = state.usage.get(key, 0) + value
    state.deferred = False
    callback = data["callback"]
    calls = callback.get("calls") if callback else None
    # A turn ends any pause before it (only a continuation can follow one); it may pause again.
    state.pending = {"run_id": run_id, "boundary": data["boundary"], "calls": calls, "open": [c["id"] for c in calls]} if calls else None
    state.last_turn = data


@_on(ev.TOOL_RESULT_SUBMITTED)
def _tool_result_submitted(state: SessionState, data: dict[str, Any], seq: int) -> None:
    message, call_id, run_id = data["message"], data["tool_call_id"], data["run_id"]
    state.messages.append(message)
    state.digest.extend((message,))
    _check(state, seq, data["digest"], data["message_count"])
    p = state.pending
    if p is not None and call_id in p["open"]:
        state.pending = {**p, "open": [i for i in p["open"] if i != call_id]}
    state.answered[call_id] = run_id
    input_id = data["input_id"]
    rec = state.inputs.get(input_id) if input_id is not None else None
    if rec is not None:
        state.inputs[input_id] = {**rec, "state": "consumed", "run_id": run_id, "sequence": max(0, state.run_sequences.get(run_id, 1) - 1)}


@_on(ev.TOOL_RESULT_ACCEPTED)
def _tool_result_accepted(state: SessionState, data: dict[str, Any], seq: int) -> None:
    state.inputs[data["input_id"]] = {
        "content": data["content"], "state": "accepted", "run_id": None, "sequence": None,
        "tool_call_id": data["tool_call_id"], "is_error": data["is_error"],
    }


@_on(ev.TOOL_CALLS_CANCELLED)
def _tool_calls_cancelled(state: SessionState, data: dict[str, Any], seq: int) -> None:
    state.messages.extend(data["messages"])
    state.digest.extend(data["messages"])
    _check(state, seq, data["digest"], data["message_count"])
    for call_id in data["call_ids"]:
        state.answered[call_id] = data["run_id"]
    state.pending = None


@_on(ev.REWOUND)
def _rewound(state: SessionState, data: dict[str, Any], seq: int) -> None:
    state.messages = list(data["messages"])
    state.digest = RunningDigest(state.messages)
    state.pending = data["pending"]
    state.deferred = data["deferred"]
    state.last_turn = None  # the turns after to_seq are abandoned: none of them is "the last"
    _check(state, seq, data["digest"], data["message_count"])


@_on(ev.INPUT_ACCEPTED)
def _input_accepted(state: SessionState, data: dict[str, Any], seq: int) -> None:
    state.inputs[data["input_id"]] = {"content": data["content"], "state": "accepted", "run_id": None, "sequence": None}


@_on(ev.CONTEXT_APPENDED)
def _context_appended(state: SessionState, data: dict[str, Any], seq: int) -> None:
    message = context_message(data["text"], data["source"])
    if data["idempotency_key"] is not None:
        state.context_keys[data["idempotency_key"]] = [data["text"], data["source"]]
    if data["staged"]:
        state.staged_context.append(message)
    else:
        state.messages.append(message)
        state.digest.extend((message,))


@_on(ev.CHECKPOINTED)
def _checkpointed(state: SessionState, data: dict[str, Any], seq: int) -> None:
    _check(state, seq, data["digest"], data["message_count"])
    state.checkpoint_seq = data["snapshot_seq"]


@_on(ev.DISCARDED)
def _discarded(state: SessionState, data: dict[str, Any], seq: int) -> None:
    state.discarded = True  # the live actor goes away; the conversation does not change


@_on(ev.ARCHIVED)
def _archived(state: SessionState, data: dict[str, Any], seq: int) -> None:
    state.archived = True


def context_message(text: str, source: str | None) -> dict[str, Any]:
    """The system message that a piece of system context becomes."""
    message = {"role": "system", "content": text}
    if source is not None:
        message["source"] = source
    return message


def _check(state: SessionState, seq: int, digest: str, message_count: int) -> None:
    if len(state.messages) != message_count:
        raise ReplayMismatch(state.id, seq, "message_count", message_count, len(state.messages))
    replayed = state.digest.hexdigest()
    if replayed != digest:
        raise ReplayMismatch(state.id, seq, "conversation digest", digest, replayed)
