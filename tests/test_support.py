"""The shared test support (tests/support) does what every suite relies on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import journal

from support import REPO, Lines, run_python, spawn, wait_until


def test_wait_until_returns_the_first_truthy_value() -> None:
    values = iter([0, None, "", "ready"])
    assert wait_until(lambda: next(values), 1.0, "the fourth value") == "ready"


def test_wait_until_fails_loudly_naming_what_it_waited_for() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"timed out after 0.05s waiting for the moon"):
        wait_until(lambda: False, 0.05, "the moon")
    assert time.monotonic() - started >= 0.05


def test_children_import_this_checkout_from_any_directory(tmp_path: Path) -> None:
    res = run_python("-c", "import journal, mob_actors; print(journal.__file__); print(mob_actors.__file__)")
    assert res.returncode == 0, res.stderr
    assert [Path(p).resolve() for p in res.stdout.split()] == [
        REPO / "journal" / "__init__.py", REPO / "mob_actors" / "__init__.py",
    ]
    assert Path(journal.__file__).resolve() == REPO / "journal" / "__init__.py"  # and so does pytest


def test_lines_keeps_only_complete_lines_and_reports_an_early_exit() -> None:
    proc = spawn("-c", "import sys; print('one'); print('two'); sys.stdout.write('cut'); sys.exit(3)")
    lines = Lines(proc)
    assert lines.line() == "one"
    assert lines.line() == "two"
    with pytest.raises(AssertionError, match=r"child exited \(rc=3\)"):
        lines.line()
    assert lines.finish() == ["one", "two"]  # the unterminated "cut" never counts
    proc.stdout.close()
    proc.stderr.close()
