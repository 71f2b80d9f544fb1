"""Every Python block in README.md runs as written, each in a fresh interpreter and directory.

A reader copies these blocks first; a snippet that names an undefined variable or an old API is
a broken promise, so this test fails on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support import REPO, run_python

BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[tuple[int, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_readme_has_python_blocks() -> None:
    assert len(python_blocks()) >= 3


@pytest.mark.parametrize(("line", "code"), python_blocks(), ids=lambda v: f"line{v}" if isinstance(v, int) else "")
def test_readme_block_runs(line: int, code: str, tmp_path: Path) -> None:
    done = run_python("-c", code, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, f"README.md block at line {line} failed:\n{done.stderr[-2000:]}"
