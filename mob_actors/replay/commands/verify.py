"""``mob-replay verify PATH [SESSION]``: replay and check everything; exit 1 on any problem."""

from __future__ import annotations

import argparse

from ..checks import check_session
from ..history import ExportHistory, open_history
from ..output import OK, PROBLEMS, Output, positive, safe, table
from ..report import Divergence, Report
from ..verify import verify
from .base import Command


def run(args: argparse.Namespace, out: Output) -> int:
    """Verify a journal (every stream, or one session) or an export file."""
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
        _render(out, report)
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


def _render(out: Output, report: Report) -> None:
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
        rows = table("STREAM", "SEQ", "PROBLEM", "FIRST DIVERGENCE", title="divergences", title_style="bold red")
        for s in report.bad:
            assert s.divergence is not None
            d = s.divergence
            rows.add_row(safe(s.stream_id), str(d.seq if d.seq is not None else "-"), d.kind, safe(d.detail))
        out.console.print(rows)
    if report.problems:
        rows = table("KIND", "STREAM", "SEQ", "POSITION", "DETAIL", title="storage problems", title_style="bold red")
        for p in report.problems:
            rows.add_row(p.kind, safe(str(p.stream_id)), str(p.seq), str(p.position), safe(p.detail))
        out.console.print(rows)
    warnings = [(s.stream_id, w) for s in report.streams for w in s.warnings]
    for stream_id, w in warnings[:20]:
        out.console.print(f"[yellow]warning[/] {safe(stream_id)}: {safe(w)}")
    if len(warnings) > 20:
        out.console.print(f"[yellow]... and {len(warnings) - 20} more warnings[/] (see --json)")
    out.console.print("[bold green]OK[/]: every digest, receipt and snapshot checks out" if report.ok else "[bold red]FAILED[/]")


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory or export file")
    p.add_argument("session", metavar="SESSION", nargs="?", help="only this session (default: every session and mob)")
    p.add_argument("--jobs", type=positive, metavar="N", help="worker processes (default: one per CPU on large journals)")
    p.add_argument("--storage", action="store_true",
                   help="also run journal.verify(), the journal's own full storage scan (decodes every record again)")


COMMAND = Command("verify", "replay sessions from scratch and from snapshots; check every digest, receipt and checkpoint",
                  _arguments, run)
