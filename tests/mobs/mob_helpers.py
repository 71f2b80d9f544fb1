"""Helpers shared by the mob tests (imported as a plain module; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka

from mob_actors import MobDefinition, MobRuntime, Profile
from mob_actors.sessions.actor import SessionActor

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


# -- helpers ----------------------------------------------------------------------------------


def team(mob_id: str = "team", wiring: tuple[tuple[str, str], ...] = ()) -> MobDefinition:
    """A mob with a lead and a worker profile."""
    return MobDefinition(
        mob_id,
        {
            "lead": Profile("lead", "You lead.", {"model": "m-lead", "tools": ["plan"]}),
            "worker": Profile("worker", "You work.", {"model": "m-worker"}),
        },
        wiring,
    )


def messages(runtime: MobRuntime, session_id: str) -> list[dict]:
    return list(runtime.service.read(session_id).messages)


def session_actor_urns() -> set[str]:
    """The URNs of the live session actors, straight from pykka (activates nothing)."""
    return {ref.actor_urn for ref in pykka.ActorRegistry.get_by_class(SessionActor) if ref.is_alive()}


def wait_for(predicate: Callable[[], Any], timeout: float = 2.0, interval: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn_script(script: str, *args: str) -> subprocess.Popen:
    """Start ``tests/mobs/<script>`` in a fresh interpreter, stdout piped as text lines."""
    return subprocess.Popen(
        [sys.executable, str(HERE / script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
