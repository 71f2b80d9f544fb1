"""``diff``: what changed in a session between two points, or where two histories part.

* :func:`diff_states` compares two rebuilt states (usually the same session after seq A and
  after seq B): messages removed and added after their common prefix, metadata and labels keys
  added, removed or changed, and the other fields (binding, archived, digest...).
* :func:`diff_histories` walks two copies of one session's history (two journals, or a journal
  and an export file) side by side and finds the first seq whose event differs. Positions and
  timestamps are not compared: an imported copy gets new ones by design.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

import journal

from ..core.state import SessionState
from .history import History
from .jsonval import to_json
from .source import Damaged, Item
from .timeline import summarize


def _point(state: SessionState) -> dict[str, Any]:
    return {"seq": state.seq, "digest": state.digest.hexdigest(), "message_count": len(state.messages)}


def _dict_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": {k: to_json(b[k]) for k in b if k not in a},
        "removed": {k: to_json(a[k]) for k in a if k not in b},
        "changed": {k: [to_json(a[k]), to_json(b[k])] for k in a if k in b and a[k] != b[k]},
    }


def _plain(value: Any) -> Any:
    return to_json(value.to_dict() if hasattr(value, "to_dict") else value)  # a MobBinding has to_dict


def diff_states(a: SessionState, b: SessionState) -> dict[str, Any]:
    """The changes from state ``a`` to state ``b`` as JSON-ready data."""
    common = 0
    for x, y in zip(a.messages, b.messages):  # noqa: B905 - lengths differ by design
        if x != y:
            break
        common += 1
    fields = {}
    for name in ("binding", "archived", "deferred", "usage", "checkpoint_seq"):
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            fields[name] = [_plain(va), _plain(vb)]
    pending_a = {i.input_id for i in a.pending_inputs()}
    pending_b = {i.input_id for i in b.pending_inputs()}
    return {
        "from": _point(a),
        "to": _point(b),
        "messages": {
            "common_prefix": common,
            "removed": [to_json(m) for m in a.messages[common:]],
            "added": [to_json(m) for m in b.messages[common:]],
        },
        "metadata": _dict_diff(a.metadata, b.metadata),
        "labels": _dict_diff(a.labels, b.labels),
        "inputs": {"accepted": sorted(pending_b - pending_a), "consumed": sorted(pending_a - pending_b)},
        "fields": fields,
        "changed": common != len(a.messages) or common != len(b.messages) or a.metadata != b.metadata
        or a.labels != b.labels or bool(fields),
    }


def _same(x: journal.RecordedEvent, y: journal.RecordedEvent) -> str | None:
    """None if the two events are the same event, else what differs."""
    for name in ("type", "version", "data", "metadata", "tags"):
        if getattr(x, name) != getattr(y, name):
            return name
    return None


def _side(item: Item | None) -> dict[str, Any] | None:
    if item is None:
        return None
    if isinstance(item, Damaged):
        return {**item.to_json(), "summary": summarize(item)}
    return {"seq": item.seq, "type": item.type, "summary": summarize(item), "data": to_json(item.data)}


def diff_histories(first: History, second: History, session_id: str) -> dict[str, Any]:
    """Walk both histories of ``session_id``; report the first differing seq (None: identical)."""
    count = 0
    for x, y in zip_longest(first.events(session_id), second.events(session_id)):
        seq = _seq(x) or _seq(y)
        if x is None or y is None:
            which = first.path if y is None else second.path
            return _diverged(session_id, first, second, seq, x, y, f"only {which} has events from seq {seq} on", count)
        if isinstance(x, Damaged) or isinstance(y, Damaged):
            return _diverged(session_id, first, second, seq, x, y, "a record cannot be read", count)
        if x.seq != y.seq:
            reason = f"seq {x.seq} vs seq {y.seq} (a gap in one of them)"
            return _diverged(session_id, first, second, min(x.seq, y.seq), x, y, reason, count)
        what = _same(x, y)
        if what is not None:
            return _diverged(session_id, first, second, seq, x, y, f"the events' {what} differ", count)
        count += 1
    return {"session_id": session_id, "first": first.path, "second": second.path, "identical": True,
            "common_events": count, "diverged_at": None}


def _seq(item: Item | None) -> Any:
    return None if item is None else item.seq


def _diverged(
    session_id: str, first: History, second: History, seq: Any, x: Item | None, y: Item | None, reason: str, count: int
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "first": first.path,
        "second": second.path,
        "identical": False,
        "common_events": count,
        "diverged_at": seq,
        "reason": reason,
        "first_event": _side(x),
        "second_event": _side(y),
    }
