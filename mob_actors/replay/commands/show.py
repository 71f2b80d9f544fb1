"""``mob-replay show PATH SESSION``: a session's timeline, one row per event."""

from __future__ import annotations

import argparse

from ...core import events as ev
from ...core.branching import abandoned
from ..errors import UsageError
from ..history import open_history
from ..output import OK, PROBLEMS, Output, positive, safe, table, type_cell
from ..source import Damaged
from ..timeline import row, short_time, summarize
from .base import Command


def run(args: argparse.Namespace, out: Output) -> int:
    """Print the events (``--from``/``--to``/``--types`` narrow them); exit 1 if one is damaged."""
    types = None
    if args.types:
        types = {t.strip() for t in args.types.split(",") if t.strip()}
        unknown = types - set(ev.ALL)
        if unknown:
            raise UsageError(f"unknown event type(s) {', '.join(sorted(unknown))}; known: {', '.join(ev.ALL)}")
    if args.from_seq is not None and args.to_seq is not None and args.from_seq > args.to_seq:
        raise UsageError(f"--from {args.from_seq} is after --to {args.to_seq}: give the first seq, then the last")
    with open_history(args.path) as history:
        sid = history.resolve(args.session)
        every = list(history.events(sid, 1, None))
        # Rewinds abandon the events between their target and themselves: marked, never hidden.
        gone = abandoned([(i.seq, i.type, i.data) for i in every if not isinstance(i, Damaged)])
        items = [i for i in every if (i.seq or 0) >= (args.from_seq or 1) and (args.to_seq is None or (i.seq or 0) <= args.to_seq)
                 and (types is None or isinstance(i, Damaged) or i.type in types)]
    damaged = [i for i in items if isinstance(i, Damaged)]
    if out.json:
        out.emit({"session_id": sid, "source": args.path, "events": [{**row(i), "abandoned": i.seq in gone} for i in items]})
    else:
        rows = table("SEQ", "TIME (UTC)", "TYPE", "SUMMARY", title=f"session {safe(sid)}", title_justify="left")
        for item in items:
            if isinstance(item, Damaged):
                rows.add_row(str(item.seq), "", "[bold red]damaged[/]", safe(summarize(item)))
            else:
                mark = "[dim](abandoned by a rewind)[/] " if item.seq in gone else ""
                rows.add_row(str(item.seq), short_time(item.timestamp_ms), type_cell(item.type), mark + safe(summarize(item)))
        out.console.print(rows)
        if not items:
            out.console.print("no events match")
    if damaged:
        out.warn(f"{len(damaged)} damaged record(s) in session {sid}")
        return PROBLEMS
    return OK


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory or export file")
    p.add_argument("session", metavar="SESSION", nargs="?", help="session id (or a unique prefix)")
    p.add_argument("--from", dest="from_seq", type=positive, metavar="SEQ", help="first seq to show")
    p.add_argument("--to", dest="to_seq", type=positive, metavar="SEQ", help="last seq to show")
    p.add_argument("--types", metavar="T,...", help="only these event types (comma-separated)")


COMMAND = Command("show", "a session's timeline: seq, time, event type and a one-line summary", _arguments, run)
