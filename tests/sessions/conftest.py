"""Fixtures for the session-service suite: real LMDB journals in tmp dirs, real pykka actors.

Every service a test makes through these fixtures is shut down after it, and an autouse
fixture fails the test if any pykka actor is still alive afterwards (a leak between tests).
Helpers live in sessions_helpers.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pykka
import pytest

import journal
import mob_actors as m
from mob_actors.testing import EchoAgent

# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_leaked_actors():
    """No actor may outlive its test (passivated actors stop asynchronously: allow them a moment)."""
    assert pykka.ActorRegistry.get_all() == [], "an earlier test leaked actors"
    yield
    deadline = time.monotonic() + 5
    while pykka.ActorRegistry.get_all() and time.monotonic() < deadline:
        time.sleep(0.01)
    leaked = pykka.ActorRegistry.get_all()
    if leaked:
        pykka.ActorRegistry.stop_all(block=True, timeout=5)
        pytest.fail(f"{len(leaked)} actor(s) still alive after the test: {leaked}")


@pytest.fixture
def jpath(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture
def jr(jpath: Path):
    """A real LMDB journal in a tmp dir (closed after the services that use it)."""
    j = journal.open(jpath)
    yield j
    j.close()


@pytest.fixture
def services():
    """Every service registered here is shut down after the test."""
    made: list[m.SessionService] = []
    yield made
    for svc in reversed(made):
        svc.shutdown()


@pytest.fixture
def persistent(jr, services):
    """make(agent=None, **kw) -> PersistentSessionService on the test's journal."""

    def make(agent: Any = None, **kw: Any) -> m.PersistentSessionService:
        svc = m.PersistentSessionService(jr, agent if agent is not None else EchoAgent(), **kw)
        services.append(svc)
        return svc

    return make


@pytest.fixture
def ephemeral(services):
    def make(agent: Any = None, **kw: Any) -> m.EphemeralSessionService:
        svc = m.EphemeralSessionService(agent if agent is not None else EchoAgent(), **kw)
        services.append(svc)
        return svc

    return make


@pytest.fixture(params=["persistent", "ephemeral"])
def make_service(request):
    """Either service: make(agent=None) -> service (for behaviour both must share)."""
    return request.getfixturevalue(request.param)
