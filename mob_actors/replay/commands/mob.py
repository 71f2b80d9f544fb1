"""``mob-replay mob PATH MOB``: a mob's roster, wiring and epochs, rebuilt from its events."""

from __future__ import annotations

import argparse

from ..mobview import view_mob
from ..output import OK, PROBLEMS, Output, safe, table
from ..source import open_journal, resolve_mob
from .base import Command


def run(args: argparse.Namespace, out: Output) -> int:
    """Print the mob; exit 1 if one of its events cannot be read or applied."""
    with open_journal(args.path) as j:
        mob_id = resolve_mob(j, args.mob)
        view = view_mob(j, mob_id)
    data = view.to_json()
    if out.json:
        out.emit(data)
    else:
        definition = data["definition"] or {}
        profiles = ", ".join(sorted(definition.get("profiles", {}))) or "-"
        out.console.print(f"[bold]mob {safe(mob_id)}[/]: {data['status']}, epoch {data['epoch']}, "
                          f"{len(data['members'])} member(s), {data['seq']} events applied; profiles: {safe(profiles)}")
        wiring = definition.get("wiring") or []
        if wiring:
            out.console.print("wiring rule: " + safe(", ".join(f"{a}\u2194{b}" for a, b in wiring)))
        roster = table("MEMBER", "PROFILE", "STATE", "SESSION", "SESSION STATUS", "EVENTS", "WIRED TO",
                       title="roster", title_justify="left")
        for m in data["members"]:
            roster.add_row(safe(m["member_id"]), safe(m["profile"]), m["state"], safe(m["session_id"]),
                           m["session_status"], str(m["session_events"]), safe(", ".join(m["wired_to"]) or "-"))
        out.console.print(roster)
        epochs = table("EPOCH", "SEQ", "TIME (UTC)", "STARTED BY", title="epochs", title_justify="left")
        for e in data["epochs"]:
            epochs.add_row(str(e["epoch"]), str(e["seq"]), e["time"][:-1].replace("T", " "), e["by"])
        out.console.print(epochs)
        if args.events:
            rows = table("SEQ", "TIME (UTC)", "TYPE", "SUMMARY", title="events", title_justify="left")
            for r in data["events"]:
                rows.add_row(str(r["seq"]), (r.get("time") or "")[:-1].replace("T", " "), safe(str(r["type"])), safe(r["summary"]))
            out.console.print(rows)
    if view.problem:
        out.warn(f"mob {mob_id}: {view.problem}")
        return PROBLEMS
    return OK


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory")
    p.add_argument("mob", metavar="MOB", help="mob id (or a unique prefix)")
    p.add_argument("--events", action="store_true", help="also list the mob's events")


COMMAND = Command("mob", "a mob's roster rebuilt from its events: members, states, wiring, epochs", _arguments, run)
