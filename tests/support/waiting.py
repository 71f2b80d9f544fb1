"""Waiting for something another thread or process does, failing loudly when it never happens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, message: str = "the condition") -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    Raises AssertionError naming ``message`` (what was waited for) if it is still falsy after
    ``timeout`` seconds. To check that something does *not* happen, do not use this: sleep for
    the window and assert, so the test says what it expects.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message} (last value: {value!r})")
        time.sleep(0.005)
