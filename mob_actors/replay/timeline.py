"""One-line, person-readable summaries of stored events, and timeline rows built from them.

Used by ``show`` (a session's timeline), ``follow`` (a live tail) and ``mob`` (a mob's events).
Summaries read only the fields :mod:`mob_actors.events` defines, and never fail: an event with
unexpected data is summarised as its raw data, because a debugging tool must show whatever is
in the journal.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import journal

from ..core import events as ev
from .jsonval import to_json
from .source import Damaged, Item

WIDTH = 160  # a summary is cut to this many characters (the JSON output keeps the full data)


def iso_time(ms: int) -> str:
    """``2026-11-25T06:51:45.123Z``: UTC, so output does not depend on the reader's time zone."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def short_time(ms: int) -> str:
    """``2026-11-25 06:51:45.123`` (UTC) for tables."""
    return iso_time(ms)[:-1].replace("T", " ")


def one_line(value: Any, width: int = WIDTH) -> str:
    """``value`` as one line of at most ``width`` characters (whitespace runs become one space)."""
    text = value if isinstance(value, str) else json.dumps(to_json(value), ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def quoted(value: Any, width: int = 70) -> str:
    return '"' + one_line(value, width) + '"'


# -- per-type summaries ---------------------------------------------------------------------------

Summarizer = Callable[[dict[str, Any]], str]
_SUMMARIES: dict[str, Summarizer] = {}


def _summary(event_type: ev.EventType) -> Callable[[Summarizer], Summarizer]:
    def register(fn: Summarizer) -> Summarizer:
        _SUMMARIES[event_type.name] = fn
        return fn

    return register


def summarize(event: journal.RecordedEvent | Damaged) -> str:
    """One line saying what the event did."""
    if isinstance(event, Damaged):
        return f"DAMAGED RECORD at {event.where()}: {event.reason}"
    fn = _SUMMARIES.get(event.type)
    try:
        if fn is not None and isinstance(event.data, dict):
            return one_line(fn(event.data))
    except (KeyError, TypeError, AttributeError, IndexError):
        pass  # malformed data: fall through and show it raw
    return one_line(event.data)


def user_prompt(messages: list[Any]) -> Any:
    """The content of a turn's user message (after any staged context), or None."""
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user":
            return m.get("content")
    return None


def is_tool_message(m: Any) -> bool:
    """A tool result or an agent message with tool calls (any key besides role and content)."""
    return isinstance(m, dict) and (m.get("role") == "tool" or bool(set(m) - {"role", "content"}))


@_summary(ev.SESSION_CREATED)
def _created(d: dict[str, Any]) -> str:
    parts = ["created"]
    system = next((m.get("content") for m in d["messages"] if m.get("role") == "system"), None)
    parts.append(f"system prompt {quoted(system, 50)}" if system is not None else "deferred (no system prompt yet)")
    if d.get("binding"):
        b = d["binding"]
        parts.append(f"member {b['member_id']} ({b['profile']}) of mob {b['mob_id']}")
    if d.get("metadata"):
        parts.append(f"metadata {one_line(d['metadata'], 50)}")
    if d.get("labels"):
        parts.append(f"labels {one_line(d['labels'], 40)}")
    if d.get("forked_from"):
        parts.insert(0, fork_text(d["forked_from"]))
    return "; ".join(parts)


def fork_text(lineage: dict[str, Any]) -> str:
    """``forked from session S at seq N (digest D…)``: a fork's lineage in one phrase."""
    return f"forked from session {lineage['source_id']} at seq {lineage['seq']} (digest {str(lineage['digest'])[:12]})"


@_summary(ev.SESSION_REVIVED)
def _revived(d: dict[str, Any]) -> str:
    return "revived: live again (not archived)"


@_summary(ev.TURN_APPLIED)
def _turn(d: dict[str, Any]) -> str:
    messages = d["messages"]
    prompt = user_prompt(messages)
    if d.get("callback"):
        cb = d["callback"]
        calls = cb.get("calls") or []
        ids = f" (call {', '.join(str(c.get('id')) for c in calls)})" if calls else ""
        reply = f"paused on tool {cb.get('tool_name')} {one_line(cb.get('args') or {}, 40)}{ids}, awaiting its result"
    else:
        reply = quoted(ev.turn_text(d) or "", 60)
    # A continuation of a paused run has no user message: it answers the tool results before it.
    line = f"{quoted(prompt, 60)} \u2192 {reply}" if prompt is not None else f"run {d['run_id']} continued after its tool results \u2192 {reply}"
    extra = []
    tools = sum(1 for m in messages if is_tool_message(m))
    if tools:
        extra.append(f"{tools} tool message{'s' if tools != 1 else ''}")
    staged = sum(1 for m in messages[: _user_index(messages)] if isinstance(m, dict) and m.get("role") == "system")
    if staged:
        extra.append(f"{staged} staged context")
    if d.get("contributing_input_ids"):
        extra.append("consumed inputs " + ", ".join(d["contributing_input_ids"]))
    if d.get("system_prompt") is not None:
        extra.append(f"system prompt set to {quoted(d['system_prompt'], 40)}")
    return line + (" [" + "; ".join(extra) + "]" if extra else "")


def _user_index(messages: list[Any]) -> int:
    for i, m in enumerate(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return i
    return 0


@_summary(ev.INPUT_ACCEPTED)
def _input(d: dict[str, Any]) -> str:
    return f"input {d['input_id']} accepted: {quoted(d['content'])}"


@_summary(ev.CONTEXT_APPENDED)
def _context(d: dict[str, Any]) -> str:
    how = "staged for the next turn" if d.get("staged") else "applied"
    source = f" from {d['source']}" if d.get("source") else ""
    return f"system context {how}{source}: {quoted(d['text'])}"


@_summary(ev.TOOL_RESULT_SUBMITTED)
def _tool_result(d: dict[str, Any]) -> str:
    message = d["message"]
    error = " (an error)" if message.get("is_error") else ""
    via = f", from input {d['input_id']}" if d.get("input_id") else ""
    return f"tool result for call {d['tool_call_id']}{error}: {quoted(message.get('content'))}{via}"


@_summary(ev.TOOL_RESULT_ACCEPTED)
def _tool_input(d: dict[str, Any]) -> str:
    return f"input {d['input_id']} accepted: the result of tool call {d['tool_call_id']}: {quoted(d['content'])}"


@_summary(ev.TOOL_CALLS_CANCELLED)
def _cancelled(d: dict[str, Any]) -> str:
    return f"tool calls {', '.join(d['call_ids'])} cancelled by the host ({quoted(d['reason'], 40)}); the paused run {d['run_id']} ended"


@_summary(ev.REWOUND)
def _rewound(d: dict[str, Any]) -> str:
    paused = "; paused again on a tool call" if d.get("pending") else ""
    return f"rewound to seq {d['to_seq']}: {d['message_count']} messages, digest {d['digest'][:12]}; the events since are abandoned{paused}"


@_summary(ev.MOB_FORKED)
def _mob_forked(d: dict[str, Any]) -> str:
    return f"forked from mob {d['source_mob_id']} as it was at journal position {d['at_position']} ({len(d['sessions'])} member sessions forked)"


@_summary(ev.CHECKPOINTED)
def _checkpoint(d: dict[str, Any]) -> str:
    return f"checkpoint: snapshot at seq {d['snapshot_seq']}, {d['message_count']} messages, digest {d['digest'][:12]}"


@_summary(ev.DISCARDED)
def _discarded(d: dict[str, Any]) -> str:
    return "discarded: the live actor was dropped (history kept)"


@_summary(ev.ARCHIVED)
def _archived(d: dict[str, Any]) -> str:
    return "archived: hidden from lists (history kept)"


@_summary(ev.MOB_CREATED)
def _mob_created(d: dict[str, Any]) -> str:
    definition = d["definition"]
    profiles = ", ".join(sorted(definition.get("profiles", {})))
    return f"mob {definition.get('mob_id')} created; profiles: {profiles or '-'}"


@_summary(ev.MEMBER_SPAWNED)
def _spawned(d: dict[str, Any]) -> str:
    return f"member {d['member_id']} ({d['profile']}) spawned, session {d['session_id']}"


@_summary(ev.MEMBER_RETIRED)
def _retired(d: dict[str, Any]) -> str:
    return f"member {d['member_id']} retired"


@_summary(ev.PEERS_WIRED)
def _wired(d: dict[str, Any]) -> str:
    return f"wired {d['a']} \u2194 {d['b']}"


@_summary(ev.PEERS_UNWIRED)
def _unwired(d: dict[str, Any]) -> str:
    return f"unwired {d['a']} \u2194 {d['b']}"


for _t, _text in (
    (ev.MOB_STOPPED, "mob stopped"),
    (ev.MOB_RESUMED, "mob resumed"),
    (ev.MOB_COMPLETED, "mob completed: every member retired"),
    (ev.MOB_RESET, "mob reset: a new epoch with an empty roster"),
    (ev.MOB_DESTROYED, "mob destroyed"),
):
    _SUMMARIES[_t.name] = lambda d, _text=_text: _text  # type: ignore[misc]


# -- rows -----------------------------------------------------------------------------------------


def row(item: Item) -> dict[str, Any]:
    """A timeline row as JSON: where, when, what, the summary and the full data."""
    if isinstance(item, Damaged):
        return {**item.to_json(), "type": None, "summary": summarize(item)}
    return {
        "stream_id": item.stream_id,
        "seq": item.seq,
        "position": item.position,
        "timestamp_ms": item.timestamp_ms,
        "time": iso_time(item.timestamp_ms),
        "type": item.type,
        "version": item.version,
        "summary": summarize(item),
        "data": to_json(item.data),
        "metadata": to_json(item.metadata),
        "tags": list(item.tags),
    }
