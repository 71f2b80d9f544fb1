"""Helpers shared by the mob tests (imported as a plain module; fixtures live in conftest.py;
helpers every suite uses, such as ``wait_until`` and ``spawn``, are in the ``support`` package)."""

from __future__ import annotations

from mob_actors import MobDefinition, MobRuntime, Profile

from support import session_actors

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
    return {ref.actor_urn for ref in session_actors()}
