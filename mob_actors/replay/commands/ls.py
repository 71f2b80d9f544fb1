"""``mob-replay ls PATH``: every session and mob of a journal, one row each, and what else is there.

Ids are never cut: when the full table does not fit the terminal, session ids are shown as their
shortest unique prefix (at least 8 characters), which every command accepts in place of the id,
then the SIZE column goes, then the seconds of the times; mob and member ids stay whole.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

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
        rows, layout = _fitted(out, entries)
        out.console.print(rows)
        sessions = sum(1 for e in entries if e.kind == "session")
        live = sum(1 for e in entries if e.kind == "session" and e.live)
        line = f"{plural(sessions, 'session')} ({live} live), {plural(len(entries) - sessions, 'mob')}"
        if others:
            named = ", ".join(f"{safe(o.stream_id)} ({plural(o.highest_seq - o.deleted_to, 'event')})" for o in others[:SHOWN_OTHERS])
            more = f" and {len(others) - SHOWN_OTHERS} more" if len(others) > SHOWN_OTHERS else ""
            line += f", {plural(len(others), 'other stream')}: {named}{more}"
        out.console.print(f"{line}, head position {head}")
        if layout.note:
            out.console.print(f"(narrow terminal: {layout.note}; a wider terminal or --json shows everything)")
        if damaged:
            damaged_table(out, damaged)
    if damaged:
        out.warn(f"{len(damaged)} damaged record(s); run `{PROG} verify {args.path}`")
        return PROBLEMS
    return OK


@dataclass(frozen=True)
class _Layout:
    """How much of the table to show: tried widest first until one fits the terminal."""

    short_ids: bool = False
    size: bool = True
    seconds: bool = True  # time with milliseconds, or to the minute
    kind: bool = True  # (without it a mob still shows: its MOB is its ID, its MEMBER says "N members")
    note: str = ""


_LAYOUTS = (
    _Layout(),
    _Layout(short_ids=True, note="session ids shortened to a unique prefix, which every command accepts"),
    _Layout(short_ids=True, size=False, note="session ids shortened to a unique prefix, which every command accepts; "
            "no SIZE column"),
    _Layout(short_ids=True, size=False, seconds=False, note="session ids shortened to a unique prefix, which every command "
            "accepts; no SIZE column; times to the minute"),
    _Layout(short_ids=True, size=False, seconds=False, kind=False, note="session ids shortened to a unique prefix, which "
            "every command accepts; no KIND or SIZE column; times to the minute"),
)


def _fitted(out: Output, entries: list[Entry]) -> tuple[Table, _Layout]:
    """The widest layout that fits; ids are never cut in any (the narrowest may wrap other cells)."""
    short = unique_prefixes([e.id for e in entries if e.kind == "session"])
    unbounded = out.console.options.update_width(100_000)
    for layout in _LAYOUTS:
        rows = _table(entries, short if layout.short_ids else {}, layout)
        if out.console.measure(rows, options=unbounded).maximum <= out.console.width:
            break
    return rows, layout


def _id_column(name: str, values: list[str]) -> Column:
    # Ids never shrink (no_wrap and min_width): rich narrows or wraps the other columns instead.
    return Column(name, no_wrap=True, min_width=max((len(v) for v in values), default=len(name)))


def _table(entries: list[Entry], short: dict[str, str], layout: _Layout) -> Table:
    ids = [short.get(e.id, e.id) for e in entries]
    mobs = [e.mob_id or (e.id if e.kind == "mob" else "") for e in entries]
    members = [(e.member_id or "") if e.kind == "session" else (f"{e.members} members" if e.members is not None else "")
               for e in entries]
    columns: list[str | Column] = [_id_column("ID", ids), *(["KIND"] if layout.kind else []), _id_column("MOB", mobs),
                                   _id_column("MEMBER", members), "EVENTS"]
    if layout.size:
        columns.append("SIZE (EVENTS + SNAPSHOTS)")
    columns += ["LAST ACTIVITY (UTC)", "STATUS"]
    rows = table(*columns)
    for e, shown, mob, member in zip(entries, ids, mobs, members, strict=True):
        status = safe(e.status)
        colour = _COLOURS.get(e.status)
        when = short_time(e.last_activity_ms) if e.last_activity_ms else "-"
        cells = [safe(shown), *([e.kind] if layout.kind else []), safe(mob), safe(member), str(e.events)]
        if layout.size:
            cells.append(f"{size_text(e.event_bytes)} + {size_text(e.snapshot_bytes)}")
        cells += [when if layout.seconds else when[:16], (f"[{colour}]{status}[/]" if colour else status) + (f" (fork of {safe(e.forked_from)})" if e.forked_from else "")]
        rows.add_row(*cells)
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
