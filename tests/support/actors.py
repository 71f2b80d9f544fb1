"""What pykka's registry says about live session actors (asking it activates nothing)."""

from __future__ import annotations

import pykka

from mob_actors.sessions.actor import SessionActor


def session_actors() -> list[pykka.ActorRef]:
    """The refs of the session actors that are alive right now."""
    return [ref for ref in pykka.ActorRegistry.get_by_class(SessionActor) if ref.is_alive()]
