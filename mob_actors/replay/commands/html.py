"""``mob-replay html PATH SESSION -o FILE.html``: one self-contained page with the session's timeline."""

from __future__ import annotations

import argparse

from ...core import events as ev
from ...core.errors import SessionNotFound, StoreError
from .. import export as exporting
from ..history import open_history
from ..html import render_page
from ..output import OK, PROBLEMS, Output, safe
from ..source import Damaged, location
from .base import Command


def run(args: argparse.Namespace, out: Output) -> int:
    """Write the page; exit 1 if a record is damaged (the page marks it)."""
    with open_history(args.path) as history:
        sid = history.resolve(args.session)
        items = list(history.events(sid))
        if not items:
            raise SessionNotFound(sid)
        try:
            digest: str | None = history.state(sid).digest.hexdigest()
        except StoreError:
            digest = None  # still draw the timeline; `verify` says what is wrong
    page = render_page(sid, items, source=location(args.path), digest=digest)
    exporting.write_atomically(args.output, page)
    turns = sum(1 for i in items if not isinstance(i, Damaged) and i.type == ev.TURN_APPLIED.name)
    damaged = sum(1 for i in items if isinstance(i, Damaged))
    if out.json:
        out.emit({"session_id": sid, "file": args.output, "events": len(items), "turns": turns, "damaged": damaged})
    else:
        out.console.print(f"wrote {safe(args.output)}: session {sid}, {len(items)} events, {turns} turns")
    if damaged:
        out.warn(f"{damaged} damaged record(s) in session {sid} (marked in the page)")
        return PROBLEMS
    return OK


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory or export file")
    p.add_argument("session", metavar="SESSION", nargs="?", help="session id or a unique prefix (optional for an export file)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html",
                   help="the page to write (replaced whole; readable by you only, mode 0600)")


COMMAND = Command("html", "write one self-contained HTML page with the session's timeline", _arguments, run)
