"""Child Python processes started by tests, and a reader for their stdout lines.

Children import this checkout's packages (``journal``, ``mob_actors``) whatever directory pytest
was started from, because ``child_env`` puts the repository root first on their PYTHONPATH.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    """The environment for a child interpreter: this checkout importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    # A child's rich output (mob-replay) must not depend on the width of the terminal running pytest.
    env.pop("COLUMNS", None)
    return env


def spawn(*argv: Any, **popen_kwargs: Any) -> subprocess.Popen[str]:
    """Start ``python argv...`` (a script path, ``-c code`` or ``-m module``, then its arguments)
    with ``child_env()``; stdout and stderr piped as text. Read its stdout with ``Lines``.

    Extra keyword arguments go to Popen (``stdin=subprocess.PIPE``, for example).
    """
    return subprocess.Popen(
        [sys.executable, *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        **popen_kwargs,
    )


def run_python(*argv: Any, timeout: float = 30, **run_kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``python argv...`` with ``child_env()``, wait for it to exit, and capture its output.

    Extra keyword arguments go to subprocess.run (``cwd=``, for example).
    """
    return subprocess.run(
        [sys.executable, *map(str, argv)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
        **run_kwargs,
    )


class Lines:
    """Collects a child's stdout lines on a thread, so the test can wait for one with a timeout.

    Only complete lines (ending in a newline) are kept: a line cut off by SIGKILL was never
    fully printed, so it does not count. ``line``/``get`` take the next line; ``finish`` waits
    for stdout to close and returns every complete line the child printed.
    """

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.queue: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.all: list[str] = []
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.endswith("\n"):
                self.all.append(line[:-1])
                self.queue.put((time.monotonic(), line[:-1]))
        self.queue.put(None)

    def get(self, timeout: float = 20) -> tuple[float, str]:
        """(monotonic time it arrived, the line); AssertionError on timeout or child exit."""
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from the child within {timeout}s") from None
        if item is None:
            self.queue.put(None)  # every later call sees the exit too
            self.proc.wait(5)
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"child exited (rc={self.proc.returncode}); stderr:\n{stderr}")
        return item

    def line(self, timeout: float = 20) -> str:
        """The next complete line; AssertionError on timeout or child exit."""
        return self.get(timeout)[1]

    def finish(self, timeout: float = 20) -> list[str]:
        """Wait for the child's stdout to close; return every complete line it printed."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "child stdout did not close"
        return list(self.all)
