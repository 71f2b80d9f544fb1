"""``mob-replay state PATH SESSION [--at SEQ]``: the session rebuilt as it was after an event."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ...core.errors import StoreError
from ...core.state import SessionState
from ..errors import Problems, UsageError
from ..history import History, open_history
from ..jsonval import to_json
from ..output import OK, Output, positive, safe, table
from ..timeline import fork_text, short_time
from .base import Command


def check_at(history: History, sid: str, at: int | None) -> None:
    """Refuse (:class:`UsageError`) an ``--at`` past the session's last event."""
    if at is None:
        return
    highest = history.highest_seq(sid)
    if at > highest:
        raise UsageError(f"session {sid} has {highest} events; --at {at} is past its last one")


def rebuild_state(history: History, sid: str, at: int | None) -> SessionState:
    """The state after ``at``; :class:`Problems` if the events do not replay."""
    try:
        return history.state(sid, at)
    except StoreError as e:  # ReplayMismatch and unreadable records included
        raise Problems(f"session {sid} cannot be rebuilt: {e}") from e


def state_json(sid: str, source: str, state: SessionState) -> dict[str, Any]:
    """The state as ``state --json`` prints it."""
    return {
        "session_id": sid,
        "source": source,
        "seq": state.seq,
        "digest": state.digest.hexdigest(),
        "message_count": len(state.messages),
        "session": to_json(state.to_session().to_dict()),
        "deferred": state.deferred,
        "usage": to_json(state.usage),
        "pending_inputs": [to_json(i.__dict__) for i in state.pending_inputs()],
        "staged_context": to_json(state.staged_context),
        "checkpoint_seq": state.checkpoint_seq,
        "pending_tool_calls": to_json(state.open_calls()),
        "awaiting_tool_result": state.pending is not None,
        "forked_from": to_json(state.lineage()),
    }


def run(args: argparse.Namespace, out: Output) -> int:
    """Print the rebuilt session: its fields, then its messages."""
    with open_history(args.path) as history:
        sid = history.resolve(args.session)
        check_at(history, sid, args.at)
        state = rebuild_state(history, sid, args.at)
    data = state_json(sid, args.path, state)
    if out.json:
        out.emit(data)
        return OK
    session = data["session"]
    info = table("", "", show_header=False, title=f"session {safe(sid)} after seq {state.seq}", title_justify="left")
    binding = session["binding"]
    rows = [
        ("created", short_time(state.created_at_ms)),
        ("updated", short_time(state.updated_at_ms)),
        ("archived", str(state.archived)),
        ("binding", f"member {binding['member_id']} ({binding['profile']}) of mob {binding['mob_id']}" if binding else "-"),
        ("metadata", json.dumps(session["metadata"], ensure_ascii=False, sort_keys=True)),
        ("labels", json.dumps(session["labels"], ensure_ascii=False, sort_keys=True)),
        ("messages", str(data["message_count"])),
        ("digest", data["digest"]),
        ("usage", json.dumps(data["usage"], sort_keys=True)),
        ("pending inputs", ", ".join(i["input_id"] for i in data["pending_inputs"]) or "-"),
        ("staged context", str(len(state.staged_context))),
        ("last snapshot", f"seq {state.checkpoint_seq}" if state.checkpoint_seq else "-"),
        ("awaiting tool result", ", ".join(f"{c['name']} (call {c['id']})" for c in data["pending_tool_calls"]) or
         ("all results in; the run has not continued" if state.pending is not None else "-")),
        ("forked from", fork_text(data["forked_from"]).removeprefix("forked from ") if data["forked_from"] else "-"),
    ]
    for key, value in rows:
        info.add_row(f"[bold]{key}[/]", safe(value))
    out.console.print(info)
    messages = table("#", "ROLE", "CONTENT")
    for n, m in enumerate(session["messages"]):
        content = m.get("content") if isinstance(m, dict) else m
        extra = {k: v for k, v in m.items() if k not in ("role", "content")} if isinstance(m, dict) else {}
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        if extra:
            text += "\n" + json.dumps(extra, ensure_ascii=False, sort_keys=True)
        messages.add_row(str(n), safe(str(m.get("role") if isinstance(m, dict) else "?")), safe(text))
    out.console.print(messages)
    return OK


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory or export file")
    p.add_argument("session", metavar="SESSION", nargs="?", help="session id (optional for an export file)")
    p.add_argument("--at", type=positive, metavar="SEQ", help="the state right after this seq")


COMMAND = Command("state", "the session rebuilt after event SEQ (default: the last)", _arguments, run)
