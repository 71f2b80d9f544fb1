"""``mob-replay follow PATH [--mob MOB | --session SESSION]``: print new events as a host appends them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rich.markup import escape

from ...core import events as ev
from ...core.errors import SessionNotFound
from ..errors import UsageError
from ..follow import follow
from ..output import OK, Output, positive, type_cell
from ..source import Damaged, Item, open_journal, resolve_mob, resolve_session
from ..timeline import row, short_time, summarize
from .base import Command


def run(args: argparse.Namespace, out: Output) -> int:
    """Tail the journal until Ctrl-C (or the hidden ``--limit``/``--for``); exit 0."""
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
                                  f"{type_cell(item.type)}  {escape(summarize(item))}")
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


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--mob", metavar="MOB", help="the mob's events and its members' sessions")
    which.add_argument("--session", metavar="SESSION", help="one session's events")
    # Undocumented ends for scripts and tests.
    p.add_argument("--limit", type=positive, help=argparse.SUPPRESS)
    p.add_argument("--for", dest="seconds", type=float, help=argparse.SUPPRESS)


COMMAND = Command("follow", "print new events as a host appends them, until Ctrl-C", _arguments, run)
