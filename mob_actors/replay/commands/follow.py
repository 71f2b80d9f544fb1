"""``mob-replay follow PATH [--mob MOB | --session SESSION]``: print new events as a host appends them.

It ends on Ctrl-C (SIGINT) or SIGTERM with exit 0, also when started from a shell that ignores
SIGINT (background jobs, nohup, some CI runners): ``follow`` installs its own handlers for both
while it runs. A mob or session the journal does not have is an error naming the ones it has,
unless ``--wait`` says to wait for it to appear.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import journal

from ...core import events as ev
from ...core.errors import SessionNotFound
from ..errors import UsageError
from ..follow import follow
from ..output import OK, Output, positive, safe, type_cell
from ..source import Damaged, Item, known_ids, open_journal, resolve_mob, resolve_session
from ..timeline import row, short_time, summarize
from .base import Command


def run(args: argparse.Namespace, out: Output) -> int:
    """Tail the journal until Ctrl-C or SIGTERM (or the hidden ``--limit``/``--for``); exit 0."""
    with open_journal(args.path) as j:
        session_id = mob_id = None
        if args.session:
            session_id = _existing(j, lambda: resolve_session(j, args.session), args.session, args.wait, out)
            if session_id is None:
                session_id = _literal(args.session)
        if args.mob:
            mob_id = _existing(j, lambda: resolve_mob(j, args.mob), args.mob, args.wait, out)
            if mob_id is None:
                mob_id = _literal(args.mob)
        if out.err.is_terminal:
            out.err.print(f"following {safe(args.path)} from position {j.head()} (Ctrl-C to stop)")

        def emit(item: Item) -> None:
            if out.json:
                out.line(row(item))
                return
            if isinstance(item, Damaged):
                out.console.print(f"[bold red]{safe(summarize(item))}[/]")
            else:
                out.console.print(f"{short_time(item.timestamp_ms)}  {safe(item.stream_id)}  #{item.seq}  "
                                  f"{type_cell(item.type)}  {safe(summarize(item))}")
            out.console.file.flush()

        with _ended_by_signals():
            try:
                follow(j, emit, session_id=session_id, mob_id=mob_id, limit=args.limit, seconds=args.seconds)
            except KeyboardInterrupt:
                pass  # Ctrl-C (or SIGTERM) is how a person ends a tail: not an error
    return OK


def _existing(j: journal.EventJournal, resolve: Callable[[], str], text: str, wait: bool, out: Output) -> str | None:
    """The known id ``text`` names (prefixes allowed); None to wait for it (``--wait``), else an error."""
    try:
        return resolve()
    except (SessionNotFound, UsageError) as e:
        if isinstance(e, UsageError) and "several" in str(e):
            raise
        if not wait:
            if isinstance(e, UsageError):  # resolve_mob's message already names the known mobs
                raise UsageError(f"{e}; give --wait to wait for it") from None
            raise UsageError(f"no session {_literal(text)} in journal {j.path}; {known_ids(j, 'session')}; "
                             "give --wait to wait for it") from None
        out.warn(f"{_literal(text)} has no events yet; waiting for them")
        return None


def _literal(text: str) -> str:
    return text.split(":", 1)[1] if text.startswith((ev.SESSION_STREAM_PREFIX, ev.MOB_STREAM_PREFIX)) else text


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _ended_by_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt while ``follow`` runs, whatever was inherited.

    (Python leaves SIGINT ignored when the process started with it ignored, and SIGTERM kills
    without cleanup by default.) Handlers can only be set from the main thread; elsewhere, as
    when a program calls ``main()`` on a thread, the process's own handling stays.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="journal directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--mob", metavar="MOB", help="the mob's events and its members' sessions")
    which.add_argument("--session", metavar="SESSION", help="one session's events")
    p.add_argument("--wait", action="store_true", help="a --mob or --session the journal does not have yet: wait for it "
                   "(without --wait it is an error)")
    # Undocumented ends for scripts and tests.
    p.add_argument("--limit", type=positive, help=argparse.SUPPRESS)
    p.add_argument("--for", dest="seconds", type=float, help=argparse.SUPPRESS)


COMMAND = Command("follow", "print new events as a host appends them (--json: one JSON object per line), "
                  "until Ctrl-C or SIGTERM", _arguments, run)
