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
    "Error": ".core.errors",
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
    "PendingToolCall": ".core.model",
    "PersistenceDisabled": ".core.errors",
    "PersistentSessionService": ".sessions.service",
    "Profile": ".core.mob",
    "ReplayMismatch": ".core.errors",
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
    from .core.errors import AgentError as AgentError, Error as Error, CallbackPending as CallbackPending, Conflict as Conflict, InvalidRequest as InvalidRequest, InvalidTransition as InvalidTransition, MobError as MobError, PersistenceDisabled as PersistenceDisabled, ReplayMismatch as ReplayMismatch, SessionBusy as SessionBusy, SessionError as SessionError, SessionNotFound as SessionNotFound, SessionNotRunning as SessionNotRunning, StoreError as StoreError, StreamError as StreamError, StreamNotFound as StreamNotFound, Unsupported as Unsupported
    from .core.ids import new_id as new_id
    from .core.mob import Member as Member, MemberState as MemberState, MobDefinition as MobDefinition, MobState as MobState, MobStatus as MobStatus, Profile as Profile
    from .core.model import Agent as Agent, CoreApplyOutput as CoreApplyOutput, CreateSessionRequest as CreateSessionRequest, EventEnvelope as EventEnvelope, HistoryPage as HistoryPage, InputState as InputState, MobBinding as MobBinding, PendingToolCall as PendingToolCall, RunApplyBoundary as RunApplyBoundary, RunBoundaryReceipt as RunBoundaryReceipt, RunResult as RunResult, Session as Session, SessionSummary as SessionSummary, StartTurnRequest as StartTurnRequest, TurnContext as TurnContext, TurnOutcome as TurnOutcome
    from .mobs.runtime import MobHandle as MobHandle, MobRuntime as MobRuntime
    from .sessions.adapter import RuntimeAdapter as RuntimeAdapter
    from .sessions.service import EphemeralSessionService as EphemeralSessionService, PersistentSessionService as PersistentSessionService, SessionService as SessionService
    from .sessions.streams import EventStream as EventStream

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
