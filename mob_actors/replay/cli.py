"""The ``mob-replay`` command line: argument parsing, output and exit codes.

Every command reads the journal read-only (``import`` alone writes), prints tables for a person,
or JSON with ``--json``, and exits 0 when fine, 1 when it found problems (damaged records,
replay divergences, a refused import...), 2 on bad usage or a journal that cannot be opened,
always with a one-line reason on stderr. The work itself lives in the sibling modules; this one
only wires arguments to them and renders what they return.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

import journal

from ..core import events as ev
from ..core.errors import SessionNotFound, StoreError
from . import diff as diffing
from . import export as exporting
from .follow import follow
from .history import ExportHistory, History, open_history
from .html import render_page
from .jsonval import to_json
from .listing import list_journal
from .mobview import view_mob
from .source import Damaged, Item, UsageError, open_journal, resolve_mob, resolve_session
from .timeline import row, short_time, summarize
from .verify import Divergence, Report, check_session, verify

OK, PROBLEMS, USAGE = 0, 1, 2
PROG = "mob-replay"


class Problems(Exception):
    """Stop a command: it found a problem (exit 1); the message is the one-line reason."""


# -- output ----------------------------------------------------------------------------------------


class Output:
    """Where a command writes: rich consoles for a person, raw JSON for ``--json``."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json
        # Colour and terminal width only on a terminal (rich checks); on a pipe keep lines whole.
        width = None if sys.stdout.isatty() else _columns()
        self.console = Console(width=width, highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, highlight=False)

    def emit(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")

    def line(self, data: Any) -> None:
        """One JSON object per line (``follow``), flushed so a reader sees it at once."""
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def warn(self, text: str) -> None:
        """One line on stderr, whatever the text holds (reasons may quote multi-line data)."""
        self.err.print(f"{PROG}: {escape(' '.join(text.split()))}", soft_wrap=True)

    @contextmanager
    def progress(self, what: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
        """``(set_total, advance)``: a bar on a terminal, nothing at all on a pipe."""
        if not self.err.is_terminal:
            yield (lambda total: None), (lambda n: None)
            return
        columns = (SpinnerColumn(), TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        # auto_refresh=False: no refresh thread, so verify may still fork its workers (see verify.py);
        # the bar redraws on each update instead.
        with Progress(*columns, console=self.err, transient=True, auto_refresh=False) as bar:
            task = bar.add_task(what, total=None)
            yield (lambda total: bar.update(task, total=total, refresh=True)), (lambda n: bar.advance(task, n) or bar.refresh())


def _columns() -> int:
    try:
        return max(int(os.environ.get("COLUMNS", "")), 40)
    except ValueError:
        return 200


def _table(*columns: str, **kwargs: Any) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, **kwargs)
    for column in columns:
        table.add_column(column)
    return table


def _damaged_table(out: Output, damaged: list[Damaged]) -> None:
    table = _table("STREAM", "SEQ", "POSITION", "PROBLEM", title="damaged records", title_style="bold red")
    for d in damaged:
        table.add_row(escape(str(d.stream_id)), str(d.seq), str(d.position), escape(d.reason))
    out.console.print(table)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


# -- ls --------------------------------------------------------------------------------------------


def cmd_ls(args: argparse.Namespace, out: Output) -> int:
    with open_journal(args.path) as j, out.progress("reading the journal") as (set_total, advance):
        entries, damaged = list_journal(j, on_plan=set_total, progress=advance)
        head = j.head()
    if out.json:
        out.emit({"journal": args.path, "head": head, "entries": [e.to_json() for e in entries],
                  "damaged": [d.to_json() for d in damaged]})
    else:
        colours = {"live": "green", "running": "green", "discarded": "yellow", "stopped": "yellow", "archived": "dim"}
        table = _table("ID", "KIND", "MOB", "MEMBER", "EVENTS", "LAST ACTIVITY (UTC)", "STATUS")
        for e in entries:
            status = escape(e.status)
            colour = colours.get(e.status)
            member = e.member_id if e.kind == "session" else (f"{e.members} members" if e.members is not None else "")
            table.add_row(
                escape(e.id), e.kind, escape(e.mob_id or (e.id if e.kind == "mob" else "")), escape(member or ""),
                str(e.events), short_time(e.last_activity_ms) if e.last_activity_ms else "-",
                f"[{colour}]{status}[/]" if colour else status,
            )
        sessions = sum(1 for e in entries if e.kind == "session")
        live = sum(1 for e in entries if e.kind == "session" and e.live)
        out.console.print(table)
        out.console.print(f"{sessions} sessions ({live} live), {len(entries) - sessions} mobs, head position {head}")
        if damaged:
            _damaged_table(out, damaged)
    if damaged:
        out.warn(f"{len(damaged)} damaged record(s); run `{PROG} verify {args.path}`")
        return PROBLEMS
    return OK


# -- show ------------------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace, out: Output) -> int:
    types = None
    if args.types:
        types = {t.strip() for t in args.types.split(",") if t.strip()}
        unknown = types - set(ev.ALL)
        if unknown:
            raise UsageError(f"unknown event type(s) {', '.join(sorted(unknown))}; known: {', '.join(ev.ALL)}")
    with open_history(args.path) as history:
        sid = history.resolve(args.session)
        items = [i for i in history.events(sid, args.from_seq or 1, args.to_seq)
                 if types is None or isinstance(i, Damaged) or i.type in types]
    damaged = [i for i in items if isinstance(i, Damaged)]
    if out.json:
        out.emit({"session_id": sid, "source": args.path, "events": [row(i) for i in items]})
    else:
        table = _table("SEQ", "TIME (UTC)", "TYPE", "SUMMARY", title=f"session {sid}", title_justify="left")
        for item in items:
            if isinstance(item, Damaged):
                table.add_row(str(item.seq), "", "[bold red]damaged[/]", escape(summarize(item)))
            else:
                table.add_row(str(item.seq), short_time(item.timestamp_ms), _type_cell(item.type), escape(summarize(item)))
        out.console.print(table)
        if not items:
            out.console.print("no events match")
    if damaged:
        out.warn(f"{len(damaged)} damaged record(s) in session {sid}")
        return PROBLEMS
    return OK


_TYPE_STYLE = {
    ev.TURN_APPLIED.name: "bold cyan",
    ev.CHECKPOINTED.name: "green",
    ev.DISCARDED.name: "yellow",
    ev.ARCHIVED.name: "dim",
    ev.SESSION_CREATED.name: "bold",
}


def _type_cell(event_type: str) -> str:
    style = _TYPE_STYLE.get(event_type)
    return f"[{style}]{escape(event_type)}[/]" if style else escape(event_type)


# -- state -----------------------------------------------------------------------------------------


def _check_at(history: History, sid: str, at: int | None) -> None:
    if at is None:
        return
    highest = history.highest_seq(sid)
    if at > highest:
        raise UsageError(f"session {sid} has {highest} events; --at {at} is past its last one")


def _rebuild(history: History, sid: str, at: int | None) -> Any:
    try:
        return history.state(sid, at)
    except StoreError as e:  # ReplayMismatch and unreadable records included
        raise Problems(f"session {sid} cannot be rebuilt: {e}") from e


def state_json(sid: str, source: str, state: Any) -> dict:
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
    }


def cmd_state(args: argparse.Namespace, out: Output) -> int:
    with open_history(args.path) as history:
        sid = history.resolve(args.session)
        _check_at(history, sid, args.at)
        state = _rebuild(history, sid, args.at)
    data = state_json(sid, args.path, state)
    if out.json:
        out.emit(data)
        return OK
    session = data["session"]
    info = _table("", "", show_header=False, title=f"session {sid} after seq {state.seq}", title_justify="left")
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
    ]
    for key, value in rows:
        info.add_row(f"[bold]{key}[/]", escape(value))
    out.console.print(info)
    messages = _table("#", "ROLE", "CONTENT")
    for n, m in enumerate(session["messages"]):
        content = m.get("content") if isinstance(m, dict) else m
        extra = {k: v for k, v in m.items() if k not in ("role", "content")} if isinstance(m, dict) else {}
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        if extra:
            text += "\n" + json.dumps(extra, ensure_ascii=False, sort_keys=True)
        messages.add_row(str(n), escape(str(m.get("role") if isinstance(m, dict) else "?")), escape(text))
    out.console.print(messages)
    return OK


# -- verify ----------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace, out: Output) -> int:
    with open_history(args.path) as history:
        report = _verify_export(history, args.session) if isinstance(history, ExportHistory) else None
        sid = history.resolve(args.session) if report is None and args.session else None
    if report is None:
        # The history is closed by now: verify opens the journal itself (its workers need it so).
        with out.progress("verifying") as (set_total, advance):
            report = verify(args.path, sid, storage=args.storage, jobs=args.jobs, progress=advance, on_plan=set_total)
    if out.json:
        out.emit({"source": args.path, **report.to_json()})
    else:
        _render_verify(out, report)
    if not report.ok:
        where = [f"{s.stream_id} seq {s.divergence.seq} ({s.divergence.kind})" for s in report.bad if s.divergence]
        if report.problems:
            where.append(f"{len(report.problems)} storage problem(s)")
        out.warn("verify failed: " + "; ".join(where[:3]) + (f"; and {len(where) - 3} more" if len(where) > 3 else ""))
        return PROBLEMS
    return OK


def _verify_export(history: ExportHistory, session: str | None) -> Report:
    sid = history.resolve(session)
    stream_report = check_session(sid, history.events(sid), highest_seq=history.highest_seq(sid))
    header = history.export.header
    if stream_report.ok and header.get("digest") is not None and header.get("digest") != stream_report.digest:
        detail = f"the file's header says digest {header['digest']}, its events replay to {stream_report.digest}"
        stream_report.divergence = Divergence("digest", history.highest_seq(sid), None, detail)
    return Report(streams=[stream_report])


def _render_verify(out: Output, report: Report) -> None:
    counts = {kind: sum(1 for s in report.streams if s.kind == kind) for kind in ("session", "mob", "stream")}
    snapshots = sum(s.snapshots for s in report.streams)
    line = f"checked {counts['session']} session(s), {counts['mob']} mob(s)"
    if counts["stream"]:
        line += f", {counts['stream']} other stream(s)"
    line += f": {report.events_checked} events, {snapshots} snapshots"
    if report.positions_checked:
        line += "; every position accounted for" if not report.problems else "; positions checked"
    if report.full_scan is not None:
        line += f"; full storage scan of {report.full_scan.events_checked} records"
    out.console.print(line)
    if report.bad:
        table = _table("STREAM", "SEQ", "PROBLEM", "FIRST DIVERGENCE", title="divergences", title_style="bold red")
        for s in report.bad:
            assert s.divergence is not None
            d = s.divergence
            table.add_row(escape(s.stream_id), str(d.seq if d.seq is not None else "-"), d.kind, escape(d.detail))
        out.console.print(table)
    if report.problems:
        table = _table("KIND", "STREAM", "SEQ", "POSITION", "DETAIL", title="storage problems", title_style="bold red")
        for p in report.problems:
            table.add_row(p.kind, escape(str(p.stream_id)), str(p.seq), str(p.position), escape(p.detail))
        out.console.print(table)
    warnings = [(s.stream_id, w) for s in report.streams for w in s.warnings]
    for stream_id, w in warnings[:20]:
        out.console.print(f"[yellow]warning[/] {escape(stream_id)}: {escape(w)}")
    if len(warnings) > 20:
        out.console.print(f"[yellow]... and {len(warnings) - 20} more warnings[/] (see --json)")
    out.console.print("[bold green]OK[/]: every digest, receipt and snapshot checks out" if report.ok else "[bold red]FAILED[/]")


# -- diff ------------------------------------------------------------------------------------------


def cmd_diff(args: argparse.Namespace, out: Output) -> int:
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
        a, b = (args.at + [None])[:2]
        for at in (a, b):
            _check_at(history, sid, at)
        result = diffing.diff_states(_rebuild(history, sid, a), _rebuild(history, sid, b))
    result["session_id"] = sid
    if out.json:
        out.emit(result)
    else:
        _render_state_diff(out, sid, result)
    return OK


def _render_state_diff(out: Output, sid: str, result: dict) -> None:
    m = result["messages"]
    out.console.print(f"session {sid}: seq {result['from']['seq']} \u2192 seq {result['to']['seq']} "
                      f"({result['from']['message_count']} \u2192 {result['to']['message_count']} messages)")
    if not result["changed"]:
        out.console.print("no changes")
    if m["removed"]:
        out.console.print(f"[red]{len(m['removed'])} message(s) replaced from index {m['common_prefix']}:[/]")
        for msg in m["removed"]:
            out.console.print(f"[red]- {escape(_msg_line(msg))}[/]")
    if m["added"]:
        out.console.print(f"[green]{len(m['added'])} message(s) added after index {m['common_prefix'] - 1}:[/]")
        for msg in m["added"]:
            out.console.print(f"[green]+ {escape(_msg_line(msg))}[/]")
    for name in ("metadata", "labels"):
        d = result[name]
        for k, v in d["added"].items():
            out.console.print(f"{name} [green]+ {escape(k)}[/] = {escape(json.dumps(v, ensure_ascii=False))}")
        for k, v in d["removed"].items():
            out.console.print(f"{name} [red]- {escape(k)}[/] (was {escape(json.dumps(v, ensure_ascii=False))})")
        for k, (va, vb) in d["changed"].items():
            before, after = json.dumps(va, ensure_ascii=False), json.dumps(vb, ensure_ascii=False)
            out.console.print(f"{name} [yellow]~ {escape(k)}[/]: {escape(before)} \u2192 {escape(after)}")
    for k, (va, vb) in result["fields"].items():
        out.console.print(f"{k}: {escape(json.dumps(va, ensure_ascii=False))} \u2192 {escape(json.dumps(vb, ensure_ascii=False))}")
    if result["inputs"]["consumed"]:
        out.console.print("inputs consumed: " + escape(", ".join(result["inputs"]["consumed"])))
    if result["inputs"]["accepted"]:
        out.console.print("inputs accepted: " + escape(", ".join(result["inputs"]["accepted"])))


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
        out.console.print(f"session {sid}: the two histories are identical ({result['common_events']} events)")
    else:
        out.console.print(f"session {sid}: the histories diverge at seq {result['diverged_at']}: {escape(result['reason'])}")
        out.console.print(f"  {result['common_events']} events before it are the same")
        for label, side in ((path1, result["first_event"]), (path2, result["second_event"])):
            text = f"{side['type']}: {side['summary']}" if side and side.get("type") else (side["summary"] if side else "(no event)")
            out.console.print(f"  {escape(label)}: {escape(text)}")
    return OK if result["identical"] else PROBLEMS


# -- export / import -------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace, out: Output) -> int:
    with open_journal(args.path) as j:
        sid = resolve_session(j, args.session)
        try:
            header = exporting.export_session(j, sid, args.output)
        except exporting.ExportRefused as e:
            raise Problems(str(e)) from e
    if args.output == "-":
        return OK  # stdout carries the export itself
    if out.json:
        out.emit({"file": args.output, **header})
    else:
        out.console.print(f"exported {header['events']} events of session {sid} to {escape(args.output)} "
                          f"({header['message_count']} messages, digest {str(header['digest'])[:16]})")
    if header["replay_problem"]:
        out.warn(f"the exported session does not replay: {header['replay_problem']}")
        return PROBLEMS
    return OK


def cmd_import(args: argparse.Namespace, out: Output) -> int:
    if not exporting.is_export_file(args.file):
        raise UsageError(f"{args.file}: not a {exporting.FORMAT} file")
    exp = exporting.load_export(args.file)
    with open_journal(args.path, writable=True) as j:
        try:
            result = exporting.import_export(exp, j)
        except exporting.ExportRefused as e:
            raise Problems(str(e)) from e
    if out.json:
        out.emit({"session_id": exp.session_id, "journal": args.path, "events": result.last_seq, "position": result.position})
    else:
        out.console.print(f"imported session {exp.session_id} ({result.last_seq} events) into {escape(args.path)}")
    return OK


# -- follow ----------------------------------------------------------------------------------------


def cmd_follow(args: argparse.Namespace, out: Output) -> int:
    with open_journal(args.path) as j:
        session_id = mob_id = None
        if args.session:
            session_id = _existing_or_literal(lambda: resolve_session(j, args.session), args.session, out)
        if args.mob:
            mob_id = _existing_or_literal(lambda: resolve_mob(j, args.mob), args.mob, out)
        if out.err.is_terminal:
            out.err.print(f"following {escape(args.path)} from position {j.head()} (Ctrl-C to stop)")

        def emit(item: Item) -> None:
            if out.json:
                out.line(row(item))
                return
            if isinstance(item, Damaged):
                out.console.print(f"[bold red]{escape(summarize(item))}[/]")
            else:
                out.console.print(f"{short_time(item.timestamp_ms)}  {escape(item.stream_id)}  #{item.seq}  "
                                  f"{_type_cell(item.type)}  {escape(summarize(item))}")
            sys.stdout.flush()

        try:
            follow(j, emit, session_id=session_id, mob_id=mob_id, limit=args.limit, seconds=args.seconds)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a person ends a tail: not an error
    return OK


def _existing_or_literal(resolve: Callable[[], str], text: str, out: Output) -> str:
    """A known id (prefixes allowed), or the literal text for something not written yet."""
    try:
        return resolve()
    except (SessionNotFound, UsageError) as e:
        if isinstance(e, UsageError) and "several" in str(e):
            raise
        literal = text.split(":", 1)[1] if text.startswith((ev.SESSION_STREAM_PREFIX, ev.MOB_STREAM_PREFIX)) else text
        out.warn(f"{literal} has no events yet; waiting for them")
        return literal


# -- mob -------------------------------------------------------------------------------------------


def cmd_mob(args: argparse.Namespace, out: Output) -> int:
    with open_journal(args.path) as j:
        mob_id = resolve_mob(j, args.mob)
        view = view_mob(j, mob_id)
    data = view.to_json()
    if out.json:
        out.emit(data)
    else:
        definition = data["definition"] or {}
        profiles = ", ".join(sorted(definition.get("profiles", {}))) or "-"
        out.console.print(f"[bold]mob {escape(mob_id)}[/]: {data['status']}, epoch {data['epoch']}, "
                          f"{len(data['members'])} member(s), {data['seq']} events applied; profiles: {escape(profiles)}")
        wiring = definition.get("wiring") or []
        if wiring:
            out.console.print("wiring rule: " + escape(", ".join(f"{a}\u2194{b}" for a, b in wiring)))
        roster = _table("MEMBER", "PROFILE", "STATE", "SESSION", "SESSION STATUS", "EVENTS", "WIRED TO",
                        title="roster", title_justify="left")
        for m in data["members"]:
            roster.add_row(escape(m["member_id"]), escape(m["profile"]), m["state"], escape(m["session_id"]),
                           m["session_status"], str(m["session_events"]), escape(", ".join(m["wired_to"]) or "-"))
        out.console.print(roster)
        epochs = _table("EPOCH", "SEQ", "TIME (UTC)", "STARTED BY", title="epochs", title_justify="left")
        for e in data["epochs"]:
            epochs.add_row(str(e["epoch"]), str(e["seq"]), e["time"][:-1].replace("T", " "), e["by"])
        out.console.print(epochs)
        if args.events:
            table = _table("SEQ", "TIME (UTC)", "TYPE", "SUMMARY", title="events", title_justify="left")
            for r in data["events"]:
                table.add_row(str(r["seq"]), (r.get("time") or "")[:-1].replace("T", " "), escape(str(r["type"])), escape(r["summary"]))
            out.console.print(table)
    if view.problem:
        out.warn(f"mob {mob_id}: {view.problem}")
        return PROBLEMS
    return OK


# -- html ------------------------------------------------------------------------------------------


def cmd_html(args: argparse.Namespace, out: Output) -> int:
    with open_history(args.path) as history:
        sid = history.resolve(args.session)
        items = list(history.events(sid))
        if not items:
            raise SessionNotFound(sid)
        try:
            digest = history.state(sid).digest.hexdigest()
        except StoreError:
            digest = None  # still draw the timeline; `verify` says what is wrong
    page = render_page(sid, items, source=os.path.abspath(args.path), digest=digest)
    exporting.write_atomically(args.output, page)
    turns = sum(1 for i in items if not isinstance(i, Damaged) and i.type == ev.TURN_APPLIED.name)
    damaged = sum(1 for i in items if isinstance(i, Damaged))
    if out.json:
        out.emit({"session_id": sid, "file": args.output, "events": len(items), "turns": turns, "damaged": damaged})
    else:
        out.console.print(f"wrote {escape(args.output)}: session {sid}, {len(items)} events, {turns} turns")
    if damaged:
        out.warn(f"{damaged} damaged record(s) in session {sid} (marked in the page)")
        return PROBLEMS
    return OK


# -- parser ----------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage; keep to the one-line reason (and say where help is).
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Replay and debug the journal of mob_actors sessions and mobs (read-only).",
                     epilog="Exit codes: 0 fine, 1 problems found, 2 bad usage or a journal that cannot be opened.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, fn: Callable[[argparse.Namespace, Output], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=fn)
        return p

    p = command("ls", cmd_ls, "list every session and mob: id, kind, mob and member, events, last activity, status")
    p.add_argument("path", metavar="PATH", help="journal directory")

    p = command("show", cmd_show, "a session's timeline: seq, time, event type and a one-line summary")
    p.add_argument("path", metavar="PATH", help="journal directory or export file")
    p.add_argument("session", metavar="SESSION", nargs="?", help="session id (or a unique prefix)")
    p.add_argument("--from", dest="from_seq", type=_positive, metavar="SEQ", help="first seq to show")
    p.add_argument("--to", dest="to_seq", type=_positive, metavar="SEQ", help="last seq to show")
    p.add_argument("--types", metavar="T,...", help="only these event types (comma-separated)")

    p = command("state", cmd_state, "the session rebuilt after event SEQ (default: the last)")
    p.add_argument("path", metavar="PATH", help="journal directory or export file")
    p.add_argument("session", metavar="SESSION", nargs="?", help="session id (optional for an export file)")
    p.add_argument("--at", type=_positive, metavar="SEQ", help="the state right after this seq")

    p = command("verify", cmd_verify, "replay sessions from scratch and from snapshots; check every digest, receipt and checkpoint")
    p.add_argument("path", metavar="PATH", help="journal directory or export file")
    p.add_argument("session", metavar="SESSION", nargs="?", help="only this session (default: every session and mob)")
    p.add_argument("--jobs", type=_positive, metavar="N", help="worker processes (default: one per CPU on large journals)")
    p.add_argument("--storage", action="store_true",
                   help="also run journal.verify(), the journal's own full storage scan (decodes every record again)")

    p = command("diff", cmd_diff, "what changed between two points (PATH SESSION --at A --at B), "
                "or where two histories diverge (PATH1 PATH2 SESSION; exit 1 if they do)")
    p.add_argument("args", metavar="PATH [PATH2] SESSION", nargs="+")
    p.add_argument("--at", type=_positive, action="append", metavar="SEQ", help="a point to compare (give it twice)")

    p = command("export", cmd_export, "write a session's whole history to one JSON-lines file")
    p.add_argument("path", metavar="PATH", help="journal directory")
    p.add_argument("session", metavar="SESSION")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write (- for stdout)")

    p = command("import", cmd_import, "append an exported session to a journal (refused if the session exists there)")
    p.add_argument("file", metavar="FILE", help="a file written by export")
    p.add_argument("path", metavar="PATH", help="journal directory (opened for writing)")

    p = command("follow", cmd_follow, "print new events as a host appends them, until Ctrl-C")
    p.add_argument("path", metavar="PATH", help="journal directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--mob", metavar="MOB", help="the mob's events and its members' sessions")
    which.add_argument("--session", metavar="SESSION", help="one session's events")
    # Undocumented ends for scripts and tests.
    p.add_argument("--limit", type=_positive, help=argparse.SUPPRESS)
    p.add_argument("--for", dest="seconds", type=float, help=argparse.SUPPRESS)

    p = command("mob", cmd_mob, "a mob's roster rebuilt from its events: members, states, wiring, epochs")
    p.add_argument("path", metavar="PATH", help="journal directory")
    p.add_argument("mob", metavar="MOB", help="mob id (or a unique prefix)")
    p.add_argument("--events", action="store_true", help="also list the mob's events")

    p = command("html", cmd_html, "write one self-contained HTML page with the session's timeline")
    p.add_argument("path", metavar="PATH", help="journal directory or export file")
    p.add_argument("session", metavar="SESSION", nargs="?")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``mob-replay`` with ``argv`` (default: the command line); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return USAGE
    except SystemExit as e:  # --help and --version end here
        return int(e.code or 0)
    out = Output(getattr(args, "json", False))
    try:
        return args.func(args, out)
    except Problems as e:
        out.warn(str(e))
        return PROBLEMS
    except (UsageError, SessionNotFound) as e:
        out.warn(str(e))
        return USAGE
    except journal.JournalError as e:
        out.warn(f"{args.path}: {e}")
        return USAGE
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - the last resort of a CLI: one line, not a traceback
        if os.environ.get("MOB_REPLAY_DEBUG"):
            traceback.print_exc()
        out.warn(f"unexpected error: {e!r} (set MOB_REPLAY_DEBUG=1 for the traceback)")
        return USAGE
