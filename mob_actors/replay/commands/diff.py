"""``mob-replay diff``: what changed between two points of a session, or where two histories part."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import diff as diffing
from ..errors import UsageError
from ..history import open_history
from ..output import OK, PROBLEMS, Output, plural, positive, safe
from .base import Command
from .state import check_at, rebuild_state


def run(args: argparse.Namespace, out: Output) -> int:
    """``PATH SESSION --at A [--at B]`` (exit 0), or ``PATH1 PATH2 SESSION`` (exit 1 if they differ)."""
    positional = args.args
    if len(positional) == 3:
        if args.at:
            raise UsageError("--at compares two points of one history; give either PATH SESSION --at A --at B or PATH1 PATH2 SESSION")
        return _diff_histories(out, *positional)
    if len(positional) != 2:
        raise UsageError("diff takes PATH SESSION --at A [--at B], or PATH1 PATH2 SESSION")
    if not args.at or len(args.at) > 2:
        raise UsageError("give --at once (from that seq to now) or twice (between two seqs)")
    path, session = positional
    with open_history(path) as history:
        sid = history.resolve(session)
        a, b = [*args.at, None][:2]
        for at in (a, b):
            check_at(history, sid, at)
        result = diffing.diff_states(rebuild_state(history, sid, a), rebuild_state(history, sid, b))
    result["session_id"] = sid
    if out.json:
        out.emit(result)
    else:
        _render_state_diff(out, sid, result)
    return OK


def _render_state_diff(out: Output, sid: str, result: dict[str, Any]) -> None:
    m = result["messages"]
    out.console.print(f"session {safe(sid)}: seq {result['from']['seq']} \u2192 seq {result['to']['seq']} "
                      f"({result['from']['message_count']} \u2192 {result['to']['message_count']} messages)")
    if not result["changed"]:
        out.console.print("no changes")
    if m["removed"]:
        # Going back in time (--at 5 --at 2) only removes; a rewritten history replaces.
        how = "replaced" if m["added"] else "removed"
        out.console.print(f"[red]{plural(len(m['removed']), 'message')} {how} from index {m['common_prefix']}:[/]")
        for msg in m["removed"]:
            out.console.print(f"[red]- {safe(_msg_line(msg))}[/]")
    if m["added"]:
        out.console.print(f"[green]{plural(len(m['added']), 'message')} added from index {m['common_prefix']}:[/]")
        for msg in m["added"]:
            out.console.print(f"[green]+ {safe(_msg_line(msg))}[/]")
    for name in ("metadata", "labels"):
        d = result[name]
        for k, v in d["added"].items():
            out.console.print(f"{name} [green]+ {safe(k)}[/] = {safe(json.dumps(v, ensure_ascii=False))}")
        for k, v in d["removed"].items():
            out.console.print(f"{name} [red]- {safe(k)}[/] (was {safe(json.dumps(v, ensure_ascii=False))})")
        for k, (va, vb) in d["changed"].items():
            before, after = json.dumps(va, ensure_ascii=False), json.dumps(vb, ensure_ascii=False)
            out.console.print(f"{name} [yellow]~ {safe(k)}[/]: {safe(before)} \u2192 {safe(after)}")
    for k, (va, vb) in result["fields"].items():
        out.console.print(f"{k}: {safe(json.dumps(va, ensure_ascii=False))} \u2192 {safe(json.dumps(vb, ensure_ascii=False))}")
    if result["inputs"]["consumed"]:
        out.console.print("inputs consumed: " + safe(", ".join(result["inputs"]["consumed"])))
    if result["inputs"]["accepted"]:
        out.console.print("inputs accepted: " + safe(", ".join(result["inputs"]["accepted"])))


def _msg_line(m: Any) -> str:
    if not isinstance(m, dict):
        return json.dumps(m, ensure_ascii=False)
    content = m.get("content")
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return f"[{m.get('role')}] " + " ".join(str(text).split())


def _diff_histories(out: Output, path1: str, path2: str, session: str) -> int:
    with open_history(path1) as first, open_history(path2) as second:
        sid = first.resolve(session)
        second.resolve(sid)  # the same session must be in both (SessionNotFound otherwise)
        result = diffing.diff_histories(first, second, sid)
    if out.json:
        out.emit(result)
    elif result["identical"]:
        out.console.print(f"session {safe(sid)}: the two histories are identical ({plural(result['common_events'], 'event')})")
    else:
        out.console.print(f"session {safe(sid)}: the histories diverge at seq {result['diverged_at']}: {safe(result['reason'])}")
        out.console.print(f"  {plural(result['common_events'], 'event')} before it {'is' if result['common_events'] == 1 else 'are'} the same")
        for label, side in ((path1, result["first_event"]), (path2, result["second_event"])):
            text = f"{side['type']}: {side['summary']}" if side and side.get("type") else (side["summary"] if side else "(no event)")
            out.console.print(f"  {safe(label)}: {safe(text)}")
    return OK if result["identical"] else PROBLEMS


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("args", metavar="PATH [PATH2] SESSION", nargs="+")
    p.add_argument("--at", type=positive, action="append", metavar="SEQ", help="a point to compare (give it twice)")


COMMAND = Command("diff", "what changed between two points (PATH SESSION --at A --at B), "
                  "or where two histories diverge (PATH1 PATH2 SESSION; exit 1 if they do)", _arguments, run)
