"""The ``mob-replay`` command line: the parser, and the one place that turns errors into exit codes.

Every command reads the journal read-only (``import`` alone writes), prints tables for a person,
or JSON with ``--json``, and exits 0 when fine, 1 when it found problems (damaged records,
replay divergences, a refused import...), 2 on bad usage or a journal that cannot be opened,
always with a one-line reason on stderr. Each command lives in :mod:`mob_actors.replay.commands`;
what they share for output is in :mod:`mob_actors.replay.output`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import traceback
from typing import NoReturn

import journal

from ..core.errors import SessionNotFound
from .commands import ALL
from .errors import ReplayError, UsageError
from .output import OK, PROG, USAGE, Output, visible

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage; keep to the one-line reason (and say where help is).
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The whole ``mob-replay`` parser; each sub-command's ``func`` runs it."""
    parser = _Parser(prog=PROG, description="Replay and debug the journal of mob_actors sessions and mobs (read-only).",
                     epilog="Exit codes: 0 fine, 1 problems found, 2 bad usage or a journal that cannot be opened.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in ALL:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=command.run)
        command.arguments(p)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("mob-actors")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _source(args: argparse.Namespace) -> str:
    """The journal or file a command read (``import`` and ``diff`` name theirs differently)."""
    for name in ("path", "file"):
        if isinstance(getattr(args, name, None), str):
            return str(getattr(args, name))
    positional = getattr(args, "args", None) or ["?"]  # diff: PATH [PATH2] SESSION
    return str(positional[0])


def _flushed(code: int) -> int:
    """``code``, once stdout is flushed; OK if its reader went away meanwhile."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    return code


def _reader_gone() -> int:
    # The reader went away (`| head`): a normal end. Stop quietly, and keep Python from
    # complaining when it flushes stdout again at exit.
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    return OK


def main(argv: list[str] | None = None) -> int:
    """Run ``mob-replay`` with ``argv`` (default: the command line); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:  # the message may quote what was typed: shown, not sent, to the terminal
        print(f"{PROG}: {visible(e)}", file=sys.stderr)
        return USAGE
    except SystemExit as e:  # --help and --version end here
        return _flushed(int(e.code or 0))
    out = Output(getattr(args, "json", False))
    try:
        code: int = args.func(args, out)
        # Flushed here, not at exit: a reader that went away must end up in the handler below.
        out.console.file.flush()
        return _flushed(code)
    except ReplayError as e:
        out.warn(str(e))
        return e.exit_code
    except SessionNotFound as e:
        out.warn(str(e))
        return USAGE
    except journal.JournalError as e:
        out.warn(f"{_source(args)}: {e}")
        return USAGE
    except BrokenPipeError:
        return _reader_gone()
    except RecursionError:
        out.warn(f"{_source(args)}: an event holds data nested too deeply for {PROG} to read "
                 f"(more than about {sys.getrecursionlimit() // 3} levels); nothing was changed")
        return USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if os.environ.get("MOB_REPLAY_DEBUG"):
            traceback.print_exc()
        out.warn(f"unexpected error: {e!r} (set MOB_REPLAY_DEBUG=1 for the traceback)")
        return USAGE
