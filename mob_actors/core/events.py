"""Every event type this library writes to the journal, with its fields and version.

This module is the one place that says what is stored. Changing an event's fields means a new
``version`` here and an upcaster in :data:`UPCASTERS` that turns the old data into the new, so
journals written by older releases keep replaying.

Streams: a session's events go to ``session:<session_id>``; a mob's to ``mob:<mob_id>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import journal

SESSION_STREAM_PREFIX = "session:"
MOB_STREAM_PREFIX = "mob:"


def session_stream(session_id: str) -> str:
    """The journal stream of a session: ``session:<id>``."""
    return SESSION_STREAM_PREFIX + session_id


def mob_stream(mob_id: str) -> str:
    """The journal stream of a mob: ``mob:<id>``."""
    return MOB_STREAM_PREFIX + mob_id


def now_ms() -> int:
    """The wall clock in unix milliseconds (what events record)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class EventType:
    """A stored event type: its name, current version and the fields of its data."""

    name: str
    version: int
    fields: tuple[str, ...]
    doc: str

    def __call__(self, **data: Any) -> journal.Event:
        """Build a journal event of this type; the fields must be exactly :attr:`fields`."""
        if data.keys() != set(self.fields):
            missing = set(self.fields) - data.keys()
            extra = data.keys() - set(self.fields)
            raise TypeError(f"{self.name}: missing fields {sorted(missing)}, unexpected {sorted(extra)}")
        return journal.Event(self.name, data, version=self.version)


def _t(name: str, fields: str, doc: str, version: int = 1) -> EventType:
    return EventType(name, version, tuple(fields.split()), doc)


# -- session events (stream session:<id>) -------------------------------------------------------
SESSION_CREATED = _t(
    "session_created", "session_id created_at_ms messages metadata labels binding forked_from",
    "A new session; `messages` holds its system prompt, if any (a fork: the source's conversation); "
    "`binding` is a MobBinding dict or None; `forked_from` is None, or for a fork its lineage "
    "{source_id, seq, digest, message_count} plus what it inherits: {pending, deferred}.",
    version=2,
)
SESSION_REVIVED = _t("session_revived", "at_ms", "A session with durable history was made live again (un-archives it).")
TURN_APPLIED = _t(
    "turn_applied",
    "run_id boundary messages system_prompt text usage contributing_input_ids sequence digest message_count callback at_ms",
    "A finished turn: `messages` are all it added (staged context, the user message, the agent's); "
    "`system_prompt` replaces the system message (deferred first turn only); `digest`/`message_count` "
    "describe the messages after it; the `contributing_input_ids` are consumed by it; `callback` is "
    "{tool_name, args, calls} when the turn paused on tool calls the host runs (`calls`: every "
    "{id, name, arguments} still waiting for a result; tool_name/args: the first), else None. "
    "A continuation of a paused run has the same `run_id`, no user message and the next `sequence`. "
    "`text` is the reply text, or None when it is the content of the last of `messages` (as usual: a "
    "long reply is then stored once; see turn_text).",
    version=2,
)
TOOL_RESULT_SUBMITTED = _t(
    "tool_result_submitted", "run_id tool_call_id message input_id digest message_count at_ms",
    "The result of a pending tool call: `message` is the tool message appended; `input_id` the ledger "
    "input it consumes (None when submitted directly); `digest`/`message_count` describe the messages after it.",
)
TOOL_RESULT_ACCEPTED = _t(
    "tool_result_accepted", "input_id tool_call_id content is_error at_ms",
    "A tool result entered the runtime adapter's ledger; consumed by the tool_result_submitted naming it.",
)
TOOL_CALLS_CANCELLED = _t(
    "tool_calls_cancelled", "run_id call_ids messages reason digest message_count at_ms",
    "The host ended a paused run without running its calls: `messages` are the tool messages saying so "
    "(is_error), one per call in `call_ids`; the session takes new turns again.",
)
REWOUND = _t(
    "rewound", "to_seq messages pending deferred digest message_count at_ms",
    "The visible conversation was set back to what it was after event `to_seq`: `messages` are its "
    "messages then, `pending` its paused run then (or None); the events in between stay in the journal, abandoned.",
)
INPUT_ACCEPTED = _t("input_accepted", "input_id content at_ms", "An input entered the runtime adapter's ledger.")
CONTEXT_APPENDED = _t(
    "context_appended", "text source idempotency_key staged at_ms",
    "System context; applied at once, or (`staged`) before the next turn's user message.",
)
CHECKPOINTED = _t(
    "checkpointed", "snapshot_seq digest message_count at_ms",
    "A snapshot of the session at `snapshot_seq` was saved; `digest` is its conversation digest.",
)
DISCARDED = _t("discarded", "at_ms", "The live actor was dropped; the durable history stays.")
ARCHIVED = _t("archived", "at_ms", "The session was archived: hidden from lists, history kept.")

# -- mob events (stream mob:<id>) -----------------------------------------------------------------
MOB_CREATED = _t("mob_created", "definition at_ms", "A mob (or a new epoch of it after reset) with its definition.")
MEMBER_SPAWNED = _t("member_spawned", "member_id profile session_id labels at_ms", "A member joined, bound to a session.")
MEMBER_RETIRED = _t("member_retired", "member_id at_ms", "A member left the roster; its session is archived.")
PEERS_WIRED = _t("peers_wired", "a b at_ms", "Two members were wired to each other (symmetric).")
PEERS_UNWIRED = _t("peers_unwired", "a b at_ms", "A wire between two members was removed.")
MOB_STOPPED = _t("mob_stopped", "at_ms", "The mob stopped: checkpointers cancelled, turns interrupted.")
MOB_RESUMED = _t("mob_resumed", "at_ms", "The mob runs again after a stop.")
MOB_COMPLETED = _t("mob_completed", "at_ms", "Every member retired; the mob is done.")
MOB_RESET = _t("mob_reset", "at_ms", "A new epoch starts: the roster is empty (written with a new mob_created).")
MOB_FORKED = _t(
    "mob_forked", "source_mob_id at_position sessions at_ms",
    "This mob was forked from `source_mob_id` as it was at journal position `at_position` (written after its "
    "mob_created); `sessions` maps each member to [source session id, seq forked at].",
)
MOB_DESTROYED = _t("mob_destroyed", "at_ms", "The mob is gone (its other events are deleted).")

ALL: dict[str, EventType] = {
    t.name: t
    for t in (
        SESSION_CREATED, SESSION_REVIVED, TURN_APPLIED, INPUT_ACCEPTED, CONTEXT_APPENDED, CHECKPOINTED,
        DISCARDED, ARCHIVED, TOOL_RESULT_SUBMITTED, TOOL_RESULT_ACCEPTED, TOOL_CALLS_CANCELLED, REWOUND, MOB_CREATED, MEMBER_SPAWNED, MEMBER_RETIRED, PEERS_WIRED, PEERS_UNWIRED,
        MOB_STOPPED, MOB_RESUMED, MOB_COMPLETED, MOB_RESET, MOB_DESTROYED, MOB_FORKED,
    )
}

def _session_created_v1(data: Any) -> Any:
    """v1 had no lineage: every session written then is an original."""
    return {**data, "forked_from": None}


def _turn_applied_v1(data: Any) -> Any:
    """v1 paused turns named one tool and no call id: nothing a host can answer by id."""
    callback = data.get("callback")
    return {**data, "callback": None if callback is None else {**callback, "calls": []}}


# (type, from_version) -> fn(data) -> data of from_version + 1.
UPCASTERS: dict[tuple[str, int], Callable[[Any], Any]] = {
    (SESSION_CREATED.name, 1): _session_created_v1,
    (TURN_APPLIED.name, 1): _turn_applied_v1,
}


def turn_text(data: dict[str, Any]) -> Any:
    """The reply text of a ``turn_applied`` event's data (its ``text``, or the last message's content)."""
    text = data.get("text")
    if text is None and data.get("messages"):
        last = data["messages"][-1]
        return last.get("content") if isinstance(last, dict) else None
    return text


def register_upcasters(j: journal.EventJournal) -> None:
    """Teach a journal to read old versions of our events."""
    for (name, version), fn in UPCASTERS.items():
        j.register_upcaster(name, version, fn)
