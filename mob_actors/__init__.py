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
    "CorruptEvent": ".core.errors",
    "CorruptMobEvent": ".core.errors",
    "Error": ".core.errors",
    "CoreApplyOutput": ".core.model",
    "CreateSessionRequest": ".core.model",
    "EphemeralSessionService": ".sessions.service",
    "EventEnvelope": ".core.model",
    "EventStream": ".sessions.streams",
    "HistoryPage": ".core.model",
    "InputState": ".core.model",
    "InvalidAgentMessage": ".core.errors",
    "InvalidRequest": ".core.errors",
    "InvalidTransition": ".core.errors",
    "Member": ".core.mob",
    "MemberState": ".core.mob",
    "MobBinding": ".core.model",
    "MobDefinition": ".core.mob",
    "MobError": ".core.errors",
    "MobOwnedElsewhere": ".core.errors",
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
    "ServiceShutDown": ".core.errors",
    "SessionSummary": ".core.model",
    "StartTurnRequest": ".core.model",
    "StoreError": ".core.errors",
    "StreamError": ".core.errors",
    "StreamNotFound": ".core.errors",
    "ToolResultPending": ".core.errors",
    "TurnContext": ".core.model",
    "TurnOutcome": ".core.model",
    "UnknownToolCall": ".core.errors",
    "Unsupported": ".core.errors",
    "new_id": ".core.ids",
}

if TYPE_CHECKING:
    from .core.errors import AgentError as AgentError
    from .core.errors import CallbackPending as CallbackPending
    from .core.errors import Conflict as Conflict
    from .core.errors import CorruptEvent as CorruptEvent
    from .core.errors import CorruptMobEvent as CorruptMobEvent
    from .core.errors import Error as Error
    from .core.errors import InvalidAgentMessage as InvalidAgentMessage
    from .core.errors import InvalidRequest as InvalidRequest
    from .core.errors import InvalidTransition as InvalidTransition
    from .core.errors import MobError as MobError
    from .core.errors import MobOwnedElsewhere as MobOwnedElsewhere
    from .core.errors import PersistenceDisabled as PersistenceDisabled
    from .core.errors import ReplayMismatch as ReplayMismatch
    from .core.errors import ServiceShutDown as ServiceShutDown
    from .core.errors import SessionBusy as SessionBusy
    from .core.errors import SessionError as SessionError
    from .core.errors import SessionNotFound as SessionNotFound
    from .core.errors import SessionNotRunning as SessionNotRunning
    from .core.errors import StoreError as StoreError
    from .core.errors import StreamError as StreamError
    from .core.errors import StreamNotFound as StreamNotFound
    from .core.errors import ToolResultPending as ToolResultPending
    from .core.errors import UnknownToolCall as UnknownToolCall
    from .core.errors import Unsupported as Unsupported
    from .core.ids import new_id as new_id
    from .core.mob import Member as Member
    from .core.mob import MemberState as MemberState
    from .core.mob import MobDefinition as MobDefinition
    from .core.mob import MobState as MobState
    from .core.mob import MobStatus as MobStatus
    from .core.mob import Profile as Profile
    from .core.model import Agent as Agent
    from .core.model import CoreApplyOutput as CoreApplyOutput
    from .core.model import CreateSessionRequest as CreateSessionRequest
    from .core.model import EventEnvelope as EventEnvelope
    from .core.model import HistoryPage as HistoryPage
    from .core.model import InputState as InputState
    from .core.model import MobBinding as MobBinding
    from .core.model import PendingToolCall as PendingToolCall
    from .core.model import RunApplyBoundary as RunApplyBoundary
    from .core.model import RunBoundaryReceipt as RunBoundaryReceipt
    from .core.model import RunResult as RunResult
    from .core.model import Session as Session
    from .core.model import SessionSummary as SessionSummary
    from .core.model import StartTurnRequest as StartTurnRequest
    from .core.model import TurnContext as TurnContext
    from .core.model import TurnOutcome as TurnOutcome
    from .mobs.runtime import MobHandle as MobHandle
    from .mobs.runtime import MobRuntime as MobRuntime
    from .sessions.adapter import RuntimeAdapter as RuntimeAdapter
    from .sessions.service import EphemeralSessionService as EphemeralSessionService
    from .sessions.service import PersistentSessionService as PersistentSessionService
    from .sessions.service import SessionService as SessionService
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
