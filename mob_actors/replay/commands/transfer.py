"""``mob-replay export`` and ``import``: a session's whole history to a file, and back into a journal."""

from __future__ import annotations

import argparse

from .. import export as exporting
from ..errors import UsageError
from ..importing import IMPORTS, import_export
from ..output import OK, PROBLEMS, Output, plural, safe
from ..source import open_journal, resolve_session
from .base import Command


def run_export(args: argparse.Namespace, out: Output) -> int:
    """Write the export file (or stdout); exit 1 if the exported events do not replay."""
    with open_journal(args.path) as j:
        sid = resolve_session(j, args.session)
        header = exporting.export_session(j, sid, args.output)
    if args.output == "-":
        return OK  # stdout carries the export itself
    if out.json:
        out.emit({"file": args.output, **header})
    else:
        out.console.print(f"exported {header['events']} events of session {sid} to {safe(args.output)} "
                          f"({header['message_count']} messages, digest {str(header['digest'])[:16]})")
    if header["replay_problem"]:
        out.warn(f"the exported session does not replay: {header['replay_problem']}")
        return PROBLEMS
    return OK


def run_import(args: argparse.Namespace, out: Output) -> int:
    """Append the exported session to the journal; exit 1 (nothing written) if it is refused."""
    if not exporting.is_export_file(args.file):
        raise UsageError(f"{args.file}: not a {exporting.FORMAT} file")
    exp = exporting.load_export(args.file)
    with open_journal(args.path, writable=True) as j:
        done = import_export(exp, j, with_binding=args.with_binding)
    result = done.result
    if out.json:
        out.emit({"session_id": exp.session_id, "journal": args.path, "events": result.last_seq, "position": result.position,
                  "binding_dropped": done.dropped_binding, "recorded_in": IMPORTS})
        return OK
    out.console.print(f"imported session {safe(exp.session_id)} ({plural(result.last_seq, 'event')}, with their original times) "
                      f"into {safe(args.path)}; the import is recorded in stream {IMPORTS}")
    if done.dropped_binding is not None:
        b = done.dropped_binding
        out.console.print(f"left out its binding to member {safe(b.get('member_id'))} of mob {safe(b.get('mob_id'))}: "
                          "it is a plain session here (--with-binding imports the binding)")
    return OK


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory")
    p.add_argument("session", metavar="SESSION", help="session id or a unique prefix")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the file to write (replaced whole; readable by you only, mode 0600), or - for stdout")


def _import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a file written by export")
    p.add_argument("path", metavar="PATH", help="journal directory (opened for writing; created if missing)")
    p.add_argument("--with-binding", action="store_true",
                   help="keep the session's binding to a mob member (by default it is left out); refused unless "
                        "the journal's mob, if it has that mob, lists the session as that member")


EXPORT = Command("export", "write a session's whole history to one JSON-lines file", _export_arguments, run_export)
IMPORT = Command("import", "append an exported session to a journal with its original event times (refused if the "
                 "session exists there); the import is recorded in the stream " + IMPORTS,
                 _import_arguments, run_import)
