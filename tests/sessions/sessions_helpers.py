"""Helpers shared by the session-service tests (fixtures are in conftest.py; helpers every
suite uses, such as ``wait_until`` and ``session_actors``, are in the ``support`` package)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import journal


def digest_of(messages: list) -> str:
    """The conversation digest, computed independently of mob_actors.core.digest."""
    raw = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


def stream_of(session_id: str) -> str:
    return "session:" + session_id


def event_types(j: journal.Journal, session_id: str) -> list[str]:
    return [e.type for e in j.read(stream_of(session_id))]


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
        except BaseException as e:
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
