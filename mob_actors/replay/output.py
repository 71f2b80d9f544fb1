"""What every ``mob-replay`` command shares for its output: the console, tables, JSON, exit codes.

A command writes through one :class:`Output`: tables and lines for a person (rich, colour and
the terminal's width only on a terminal), or JSON with ``--json``; one-line reasons go to
stderr. The argument types and table cells that several commands use live here too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..core import events as ev
from .source import Damaged

OK, PROBLEMS, USAGE = 0, 1, 2
PROG = "mob-replay"

SetTotal = Callable[[int], None]
Advance = Callable[[int], None]


class Output:
    """Where a command writes: rich consoles for a person, raw JSON for ``--json``."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json
        # Colour and terminal width only on a terminal (rich checks); on a pipe keep lines whole.
        width = None if sys.stdout.isatty() else _columns()
        self.console = Console(width=width, highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, highlight=False)

    def emit(self, data: Any) -> None:
        """The command's whole result as one indented JSON document."""
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")

    def line(self, data: Any) -> None:
        """One JSON object per line (``follow``), flushed so a reader sees it at once."""
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def warn(self, text: str) -> None:
        """One line on stderr, whatever the text holds (reasons may quote multi-line data)."""
        self.err.print(f"{PROG}: {escape(' '.join(text.split()))}", soft_wrap=True)

    @contextmanager
    def progress(self, what: str) -> Iterator[tuple[SetTotal, Advance]]:
        """``(set_total, advance)``: a bar on a terminal, nothing at all on a pipe."""
        if not self.err.is_terminal:
            yield (lambda total: None), (lambda n: None)
            return
        columns = (SpinnerColumn(), TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        # auto_refresh=False: no refresh thread, so verify may still fork its workers (see verify.py);
        # the bar redraws on each update instead.
        with Progress(*columns, console=self.err, transient=True, auto_refresh=False) as bar:
            task = bar.add_task(what, total=None)

            def set_total(total: int) -> None:
                bar.update(task, total=total, refresh=True)

            def advance(n: int) -> None:
                bar.advance(task, n)
                bar.refresh()

            yield set_total, advance


def _columns() -> int:
    try:
        return max(int(os.environ.get("COLUMNS", "")), 40)
    except ValueError:
        return 200


def table(*columns: str, **kwargs: Any) -> Table:
    """A table in the tool's one style, with these column headers."""
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, **kwargs)
    for column in columns:
        t.add_column(column)
    return t


def damaged_table(out: Output, damaged: list[Damaged]) -> None:
    """Print the damaged records a command came across."""
    t = table("STREAM", "SEQ", "POSITION", "PROBLEM", title="damaged records", title_style="bold red")
    for d in damaged:
        t.add_row(escape(str(d.stream_id)), str(d.seq), str(d.position), escape(d.reason))
    out.console.print(t)


def positive(text: str) -> int:
    """argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


_TYPE_STYLE = {
    ev.TURN_APPLIED.name: "bold cyan",
    ev.CHECKPOINTED.name: "green",
    ev.DISCARDED.name: "yellow",
    ev.ARCHIVED.name: "dim",
    ev.SESSION_CREATED.name: "bold",
}


def type_cell(event_type: str) -> str:
    """An event type as rich markup, styled by what it is."""
    style = _TYPE_STYLE.get(event_type)
    return f"[{style}]{escape(event_type)}[/]" if style else escape(event_type)


def dumps(value: Any) -> str:
    """``value`` as compact JSON text for a table cell or a line (not escaped for rich)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
