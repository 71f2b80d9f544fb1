"""``mob-replay ls PATH``: every session and mob of a journal, one row each, and what else is there.

Ids are never cut: when the full table does not fit the terminal, session ids are shown as their
shortest unique prefix (at least 8 characters), which every command accepts in place of the id.
"""

from __future__ import annotations

import argparse

from rich.table import Column, Table

from ..listing import Entry, list_journal, other_streams
from ..output import OK, PROBLEMS, PROG, Output, damaged_table, plural, safe, table
from ..source import open_journal
from ..timeline import short_time
from .base import Command

_COLOURS = {"live": "green", "running": "green", "discarded": "yellow", "stopped": "yellow", "archived": "dim"}
MIN_PREFIX = 8
SHOWN_OTHERS = 5


def run(args: argparse.Namespace, out: Output) -> int:
    """List the journal; exit 1 if a record could not be read."""
    with open_journal(args.path) as j, out.progress("reading the journal") as (set_total, advance):
        entries, damaged = list_journal(j, on_plan=set_total, progress=advance)
        others = other_streams(j)
        head = j.head()
    if out.json:
        out.emit({"journal": args.path, "head": head, "entries": [e.to_json() for e in entries],
                  "other_streams": [{"stream_id": o.stream_id, "events": o.highest_seq - o.deleted_to} for o in others],
                  "damaged": [d.to_json() for d in damaged]})
    else:
        rows = _table(entries, {})
        shortened = False
        if out.console.measure(rows, options=out.console.options.update_width(100_000)).maximum > out.console.width:
            rows = _table(entries, unique_prefixes([e.id for e in entries if e.kind == "session"]))
            shortened = True
        out.console.print(rows)
        sessions = sum(1 for e in entries if e.kind == "session")
        live = sum(1 for e in entries if e.kind == "session" and e.live)
        line = f"{plural(sessions, 'session')} ({live} live), {plural(len(entries) - sessions, 'mob')}"
        if others:
            named = ", ".join(f"{safe(o.stream_id)} ({plural(o.highest_seq - o.deleted_to, 'event')})" for o in others[:SHOWN_OTHERS])
            more = f" and {len(others) - SHOWN_OTHERS} more" if len(others) > SHOWN_OTHERS else ""
            line += f", {plural(len(others), 'other stream')}: {named}{more}"
        out.console.print(f"{line}, head position {head}")
        if shortened:
            out.console.print("(session ids shortened to a unique prefix, which every command accepts; "
                              "a wider terminal or --json shows them whole)")
        if damaged:
            damaged_table(out, damaged)
    if damaged:
        out.warn(f"{len(damaged)} damaged record(s); run `{PROG} verify {args.path}`")
        return PROBLEMS
    return OK


def _table(entries: list[Entry], short: dict[str, str]) -> Table:
    ids = [short.get(e.id, e.id) for e in entries]
    # The id column never shrinks (min_width): rich narrows or wraps the others first.
    id_column = Column("ID", no_wrap=True, min_width=max((len(i) for i in ids), default=2))
    rows = table(id_column, "KIND", "MOB", "MEMBER", "EVENTS", "SIZE (EVENTS + SNAPSHOTS)", "LAST ACTIVITY (UTC)", "STATUS")
    for e, shown in zip(entries, ids, strict=True):
        status = safe(e.status)
        colour = _COLOURS.get(e.status)
        member = e.member_id if e.kind == "session" else (f"{e.members} members" if e.members is not None else "")
        rows.add_row(
            safe(shown), e.kind, safe(e.mob_id or (e.id if e.kind == "mob" else "")), safe(member or ""),
            str(e.events), f"{size_text(e.event_bytes)} + {size_text(e.snapshot_bytes)}",
            short_time(e.last_activity_ms) if e.last_activity_ms else "-",
            f"[{colour}]{status}[/]" if colour else status,
        )
    return rows


def unique_prefixes(ids: list[str], minimum: int = MIN_PREFIX) -> dict[str, str]:
    """Each id's shortest prefix (at least ``minimum`` long) that no other id starts with."""
    ordered = sorted(set(ids))
    out = {}
    for n, value in enumerate(ordered):
        # In sorted order the id sharing the longest prefix with this one is a neighbour.
        shared = max((_common(value, ordered[m]) for m in (n - 1, n + 1) if 0 <= m < len(ordered)), default=0)
        out[value] = value[: max(minimum, shared + 1)]
    return out


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):  # noqa: B905 - lengths may differ
        if x != y:
            break
        n += 1
    return n


def size_text(n: int) -> str:
    """Bytes as a short figure: 512 B, 3.4 kB, 12.0 MB, 1.2 GB."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory")


COMMAND = Command("ls", "list every session and mob: id, kind, mob and member, events, size on disk, last activity, status",
                  _arguments, run)
