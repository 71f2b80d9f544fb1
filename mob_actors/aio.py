"""Public path of :class:`AsyncSessionService`; the code lives in :mod:`mob_actors.sessions.aio`."""

from .sessions.aio import AsyncSessionService

__all__ = ["AsyncSessionService"]
