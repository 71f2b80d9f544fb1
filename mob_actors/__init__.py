"""Agent sessions as event-sourced pykka actors on a durable :mod:`journal`.

Each live session is an actor that appends every turn, context append, checkpoint, discard and
archive to its own journal stream before it answers; a session is whatever replaying that stream
gives (see :mod:`mob_actors.state` for the one ``evolve`` both paths use, and
:mod:`mob_actors.events` for every stored event type). Hosts talk to a service:

* :class:`PersistentSessionService` — sessions in a journal, surviving crashes;
* :class:`EphemeralSessionService` — sessions in memory only.

Both implement the ``MobSessionService`` contract that mobs (:class:`MobRuntime`) build on.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it. Loaded on first use, so that importing a
# layer (``mob_actors.core``, ``mob_actors.replay``) does not start pykka or the journal's
# writer machinery it never needs.
_EXPORTS: dict[str, str] = {
    "Agent": ".core.model",
    "AgentError": ".core.errors",
    "CallbackPending": ".core.errors",
    "Conflict": ".core.errors",
    "CoreApplyOutput": ".core.model",
    "CreateSessionRequest": ".core.model",
    "EphemeralSessionService": ".sessions.service",
    "EventEnvelope": ".core.model",
    "EventStream": ".sessions.streams",
    "HistoryPage": ".core.model",
    "InputState": ".core.model",
    "InvalidRequest": ".core.errors",
    "InvalidTransition": ".core.errors",
    "Member": ".core.mob",
    "MemberState": ".core.mob",
    "MobBinding": ".core.model",
    "MobDefinition": ".core.mob",
    "MobError": ".core.errors",
    "MobHandle": ".mobs.runtime",
    "MobRuntime": ".mobs.runtime",
    "MobState": ".core.mob",
    "MobStatus": ".core.mob",
    "PersistenceDisabled": ".core.errors",
    "PersistentSessionService": ".sessions.service",
    "Profile": ".core.mob",
    "ReplayMismatch": ".core.state",
    "RunApplyBoundary": ".core.model",
    "RunBoundaryReceipt": ".core.model",
    "RunResult": ".core.model",
    "RuntimeAdapter": ".sessions.adapter",
    "Session": ".core.model",
    "SessionBusy": ".core.errors",
    "SessionError": ".core.errors",
    "SessionNotFound": ".core.errors",
    "SessionNotRunning": ".core.errors",
    "SessionService": ".sessions.service",
    "SessionSummary": ".core.model",
    "StartTurnRequest": ".core.model",
    "StoreError": ".core.errors",
    "StreamError": ".core.errors",
    "StreamNotFound": ".core.errors",
    "TurnContext": ".core.model",
    "TurnOutcome": ".core.model",
    "Unsupported": ".core.errors",
    "new_id": ".core.ids",
}

if TYPE_CHECKING:
    from .core.errors import AgentError, CallbackPending, Conflict, InvalidRequest, InvalidTransition, MobError, PersistenceDisabled, SessionBusy, SessionError, SessionNotFound, SessionNotRunning, StoreError, StreamError, StreamNotFound, Unsupported
    from .core.ids import new_id
    from .core.mob import Member, MemberState, MobDefinition, MobState, MobStatus, Profile
    from .core.model import Agent, CoreApplyOutput, CreateSessionRequest, EventEnvelope, HistoryPage, InputState, MobBinding, RunApplyBoundary, RunBoundaryReceipt, RunResult, Session, SessionSummary, StartTurnRequest, TurnContext, TurnOutcome
    from .core.state import ReplayMismatch
    from .mobs.runtime import MobHandle, MobRuntime
    from .sessions.adapter import RuntimeAdapter
    from .sessions.service import EphemeralSessionService, PersistentSessionService, SessionService
    from .sessions.streams import EventStream

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
