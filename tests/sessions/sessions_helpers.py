"""Helpers shared by the session-service tests (fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka

import journal
from mob_actors.sessions.actor import SessionActor

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def digest_of(messages: list) -> str:
    """The conversation digest, computed independently of mob_actors.core.digest."""
    raw = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def stream_of(session_id: str) -> str:
    return "session:" + session_id


def event_types(j: journal.Journal, session_id: str) -> list[str]:
    return [e.type for e in j.read(stream_of(session_id))]


def session_actors() -> list[pykka.ActorRef]:
    return [ref for ref in pykka.ActorRegistry.get_by_class(SessionActor) if ref.is_alive()]


def roles_and_contents(messages: list[dict]) -> list[tuple[str, Any]]:
    return [(msg["role"], msg["content"]) for msg in messages]


class InThread:
    """Run ``fn`` on a thread; ``result()`` re-raises what it raised."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._value = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            self._error = e

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = 10.0) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"thread still running after {timeout}s"
        if self._error is not None:
            raise self._error
        return self._value

    def error(self, timeout: float = 10.0) -> BaseException | None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"thread still running after {timeout}s"
        return self._error


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


PYTHON = sys.executable


class Lines:
    """A child's complete stdout lines, collected on a thread (a line cut by SIGKILL does not count)."""

    def __init__(self, proc) -> None:
        import queue

        self.proc = proc
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.all: list[str] = []
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            if line.endswith("\n"):
                self.all.append(line[:-1])
                self.queue.put(line[:-1])
        self.queue.put(None)

    def line(self, timeout: float = 20) -> str:
        import queue

        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from the child within {timeout}s") from None
        if item is None:
            self.proc.wait(5)
            raise AssertionError(f"child exited (rc={self.proc.returncode}); stderr:\n{self.proc.stderr.read()}")
        return item

    def finish(self, timeout: float = 20) -> list[str]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "child stdout did not close"
        return list(self.all)
