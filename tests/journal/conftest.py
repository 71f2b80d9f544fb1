"""Fixtures and helpers for the journal suite: real LMDB journals in tmp_path, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import journal

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


@pytest.fixture
def jpath(tmp_path: Path) -> str:
    """A directory for a journal; it does not exist yet (journal.open creates it)."""
    return str(tmp_path / "journal")


@pytest.fixture
def j(jpath: str):
    """A writable journal with the default durability ("sync")."""
    with journal.open(jpath) as jr:
        yield jr


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child must import this checkout's journal package however pytest was started.
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn(script: str, *args: str, **popen_kwargs) -> subprocess.Popen:
    """Start ``tests/journal/<script>`` in a fresh interpreter, stdout piped as text lines."""
    return subprocess.Popen(
        [sys.executable, str(HERE / script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        **popen_kwargs,
    )


def run_code(code: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run ``python -c code args...`` and wait for it."""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
    )


class Lines:
    """Collects a child's stdout lines on a thread, so the test can wait for one with a timeout.

    Only complete lines (ending in a newline) are kept: a line cut off by SIGKILL was never
    fully printed, so it does not count.
    """

    def __init__(self, proc: subprocess.Popen) -> None:
        import queue
        import threading

        self.proc = proc
        self.queue: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.all: list[str] = []
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            if line.endswith("\n"):
                self.all.append(line[:-1])
                self.queue.put((time.monotonic(), line[:-1]))
        self.queue.put(None)

    def get(self, timeout: float = 20) -> tuple[float, str]:
        """(monotonic time it arrived, the line); AssertionError on timeout or child exit."""
        import queue

        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from the child within {timeout}s") from None
        if item is None:
            self.queue.put(None)
            self.proc.wait(5)
            raise AssertionError(f"child exited (rc={self.proc.returncode}); stderr:\n{self.proc.stderr.read()}")
        return item

    def line(self, timeout: float = 20) -> str:
        return self.get(timeout)[1]

    def finish(self, timeout: float = 20) -> list[str]:
        """Wait for the child's stdout to close; return every complete line it printed."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "child stdout did not close"
        return list(self.all)


def ev(type_: str = "e", data=None, **kw) -> journal.Event:
    return journal.Event(type_, data, **kw)


def assert_positions_gap_free(jr: journal.Journal) -> list[journal.RecordedEvent]:
    """All events in global order; positions must be exactly 1..head."""
    events = list(jr.read_all())
    assert [e.position for e in events] == list(range(1, jr.head() + 1))
    return events


def assert_streams_gap_free(jr: journal.Journal) -> None:
    for info in jr.streams():
        seqs = [e.seq for e in jr.read(info.stream_id)]
        assert seqs == list(range(info.deleted_to + 1, info.highest_seq + 1)), info
