"""``mob-replay ls PATH``: every session and mob of a journal, one row each."""

from __future__ import annotations

import argparse

from rich.markup import escape

from ..listing import list_journal
from ..output import OK, PROBLEMS, PROG, Output, damaged_table, table
from ..source import open_journal
from ..timeline import short_time
from .base import Command

_COLOURS = {"live": "green", "running": "green", "discarded": "yellow", "stopped": "yellow", "archived": "dim"}


def run(args: argparse.Namespace, out: Output) -> int:
    """List the journal; exit 1 if a record could not be read."""
    with open_journal(args.path) as j, out.progress("reading the journal") as (set_total, advance):
        entries, damaged = list_journal(j, on_plan=set_total, progress=advance)
        head = j.head()
    if out.json:
        out.emit({"journal": args.path, "head": head, "entries": [e.to_json() for e in entries],
                  "damaged": [d.to_json() for d in damaged]})
    else:
        rows = table("ID", "KIND", "MOB", "MEMBER", "EVENTS", "SIZE (EVENTS + SNAPSHOTS)", "LAST ACTIVITY (UTC)", "STATUS")
        for e in entries:
            status = escape(e.status)
            colour = _COLOURS.get(e.status)
            member = e.member_id if e.kind == "session" else (f"{e.members} members" if e.members is not None else "")
            rows.add_row(
                escape(e.id), e.kind, escape(e.mob_id or (e.id if e.kind == "mob" else "")), escape(member or ""),
                str(e.events), f"{size_text(e.event_bytes)} + {size_text(e.snapshot_bytes)}",
                short_time(e.last_activity_ms) if e.last_activity_ms else "-",
                f"[{colour}]{status}[/]" if colour else status,
            )
        sessions = sum(1 for e in entries if e.kind == "session")
        live = sum(1 for e in entries if e.kind == "session" and e.live)
        out.console.print(rows)
        out.console.print(f"{sessions} sessions ({live} live), {len(entries) - sessions} mobs, head position {head}")
        if damaged:
            damaged_table(out, damaged)
    if damaged:
        out.warn(f"{len(damaged)} damaged record(s); run `{PROG} verify {args.path}`")
        return PROBLEMS
    return OK


def size_text(n: int) -> str:
    """Bytes as a short figure: 512 B, 3.4 kB, 12.0 MB, 1.2 GB."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory")


COMMAND = Command("ls", "list every session and mob: id, kind, mob and member, events, size on disk, last activity, status", _arguments, run)
