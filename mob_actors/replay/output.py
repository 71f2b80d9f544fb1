"""What every ``mob-replay`` command shares for its output: the console, tables, JSON, exit codes.

A command writes through one :class:`Output`: tables and lines for a person (rich, colour and
the terminal's width only on a terminal), or JSON with ``--json``; one-line reasons go to
stderr. The argument types and table cells that several commands use live here too.

Journal content is untrusted (model output, imported files): everything taken from it reaches a
person through :func:`safe` (or :func:`visible`), which shows control characters as ``\\x1b``
instead of letting an escape sequence move the cursor, rewrite the screen or set the clipboard.
``--json`` needs nothing: JSON escapes them itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn
from rich.table import Column, Table

from ..core import events as ev
from .source import Damaged

OK, PROBLEMS, USAGE = 0, 1, 2
PROG = "mob-replay"

SetTotal = Callable[[int], None]
Advance = Callable[[int], None]


# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI for some terminals),
# and the invisible direction overrides that make text read differently from what it is.
_UNSAFE = [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0),
           0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_VISIBLE = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}


def visible(text: object) -> str:
    """``text`` with every control character written out (``\\x1b``), safe to print to a terminal."""
    return str(text).translate(_VISIBLE)


def safe(text: object) -> str:
    """:func:`visible`, and escaped for rich markup: how journal content goes into a line or a cell."""
    return escape(visible(text))


# JSON escapes C0 controls itself; these it leaves raw (valid JSON either way, equal once parsed).
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_text(text: str) -> str:
    """JSON text with the controls json.dumps leaves raw written as ``\\uXXXX``, safe on a terminal."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _JSON_RAW.search(text) else text


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 mob``, ``2 mobs``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


class _Console(Console):
    """A rich console that lets a closed pipe reach :func:`mob_actors.replay.cli.main`.

    (rich's own handling exits with 1; a reader that stops reading, like ``| head``, is a
    normal end, which ``main`` makes exit 0.)
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


class _TrimmedLines:
    """A text stream that drops the spaces before each line end: rich pads every table cell to
    its column's width, which a pipe (a file, grep, diff) should not get."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._partial = ""

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8") or "utf-8"

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        fileno: int = self._stream.fileno()
        return fileno

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        if lines:
            self._stream.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self._stream.write(self._partial)
            self._partial = ""
        self._stream.flush()


class Output:
    """Where a command writes: rich consoles for a person, raw JSON for ``--json``."""

    def __init__(self, as_json: bool) -> None:
        self.json = as_json
        # Colour and terminal width only on a terminal (rich checks); on a pipe keep lines whole,
        # without the padding at their ends.
        if sys.stdout.isatty():
            self.console: Console = _Console(highlight=False, soft_wrap=False)
        else:
            self.console = _Console(file=cast(IO[str], _TrimmedLines(sys.stdout)), width=_columns(), highlight=False, soft_wrap=False)
        self.err = _Console(stderr=True, highlight=False)

    def emit(self, data: Any) -> None:
        """The command's whole result as one indented JSON document."""
        sys.stdout.write(_json_text(json.dumps(data, ensure_ascii=False, indent=2)) + "\n")

    def line(self, data: Any) -> None:
        """One JSON object per line (``follow``), flushed so a reader sees it at once."""
        sys.stdout.write(_json_text(json.dumps(data, ensure_ascii=False)) + "\n")
        sys.stdout.flush()

    def warn(self, text: str) -> None:
        """One line on stderr, whatever the text holds (reasons may quote multi-line data)."""
        self.err.print(f"{PROG}: {safe(' '.join(text.split()))}", soft_wrap=True)

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


def table(*columns: str | Column, **kwargs: Any) -> Table:
    """A table in the tool's one style, with these column headers (or rich Columns)."""
    return Table(*columns, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, **kwargs)


def damaged_table(out: Output, damaged: list[Damaged]) -> None:
    """Print the damaged records a command came across."""
    t = table("STREAM", "SEQ", "POSITION", "PROBLEM", title="damaged records", title_style="bold red")
    for d in damaged:
        t.add_row(safe(d.stream_id), str(d.seq), str(d.position), safe(d.reason))
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
    return f"[{style}]{safe(event_type)}[/]" if style else safe(event_type)
