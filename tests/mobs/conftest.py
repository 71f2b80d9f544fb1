"""Fixtures for the mob suite: real LMDB journals in tmp dirs, real pykka actors, real processes.

Every runtime, service and journal a test opens through these fixtures is closed at teardown,
and an autouse fixture then checks that no pykka actor outlived the test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka
import pytest

import journal
from mob_actors import (
    EphemeralSessionService,
    MobRuntime,
    PersistentSessionService,
    SessionService,
)
from mob_actors.testing import EchoAgent

# -- resources closed at teardown -------------------------------------------------------------


class Opened:
    """Everything a test opened, closed in reverse order at teardown."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, item: Any) -> Any:
        self.items.append(item)
        return item

    def close_all(self) -> None:
        errors = []
        for item in reversed(self.items):
            try:
                if isinstance(item, MobRuntime):
                    item.close()
                elif isinstance(item, SessionService):
                    item.shutdown()
                elif isinstance(item, journal.Journal):
                    item.close()
            except Exception as e:  # keep closing the rest
                errors.append(e)
        self.items.clear()
        if errors:
            raise errors[0]


def _alive_actors() -> list[pykka.ActorRef]:
    return [ref for ref in pykka.ActorRegistry.get_all() if ref.is_alive()]


@pytest.fixture(autouse=True)
def opened() -> Any:
    """Closes what the test opened, then checks that no pykka actor leaked."""
    assert not _alive_actors(), f"actors alive before the test: {_alive_actors()}"
    resources = Opened()
    yield resources
    resources.close_all()
    # Passivated actors stop asynchronously: give them a moment before calling it a leak.
    deadline = time.monotonic() + 3.0
    while _alive_actors() and time.monotonic() < deadline:
        time.sleep(0.01)
    leaked = _alive_actors()
    if leaked:
        pykka.ActorRegistry.stop_all(block=True, timeout=5)  # do not poison the next test
    assert not leaked, f"pykka actors leaked: {leaked}"


@pytest.fixture
def jpath(tmp_path: Path) -> str:
    return str(tmp_path / "journal")


@pytest.fixture
def open_runtime(opened: Opened, jpath: str) -> Callable[..., MobRuntime]:
    """``open_runtime(agent=None, path=jpath, **kw)``: a MobRuntime closed at teardown."""

    def _open(agent: Any = None, path: Any = None, **kwargs: Any) -> MobRuntime:
        runtime = MobRuntime.open(jpath if path is None else path, agent if agent is not None else EchoAgent(), **kwargs)
        return opened.add(runtime)

    return _open


@pytest.fixture
def open_journal(opened: Opened, jpath: str) -> Callable[..., journal.Journal]:
    def _open(path: Any = None) -> journal.Journal:
        return opened.add(journal.open(jpath if path is None else path))

    return _open


@pytest.fixture
def persistent_service(opened: Opened) -> Callable[..., PersistentSessionService]:
    def _make(j: journal.Journal, agent: Any = None, **kwargs: Any) -> PersistentSessionService:
        return opened.add(PersistentSessionService(j, agent if agent is not None else EchoAgent(), **kwargs))

    return _make


@pytest.fixture
def ephemeral_service(opened: Opened) -> Callable[..., EphemeralSessionService]:
    def _make(agent: Any = None) -> EphemeralSessionService:
        return opened.add(EphemeralSessionService(agent if agent is not None else EchoAgent()))

    return _make


@pytest.fixture
def runtime(open_runtime: Callable[..., MobRuntime]) -> MobRuntime:
    return open_runtime()
