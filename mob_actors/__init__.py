"""Agent sessions as event-sourced pykka actors on a durable :mod:`journal`.

Each live session is an actor that appends every turn, context append, checkpoint, discard and
archive to its own journal stream before it answers; a session is whatever replaying that stream
gives (see :mod:`mob_actors.state` for the one ``evolve`` both paths use, and
:mod:`mob_actors.events` for every stored event type). Hosts talk to a service:

* :class:`PersistentSessionService` — sessions in a journal, surviving crashes;
* :class:`EphemeralSessionService` — sessions in memory only.

Both implement the ``MobSessionService`` contract that mobs (:class:`MobRuntime`) build on.
"""

from .adapter import RuntimeAdapter
from .errors import (
    AgentError,
    CallbackPending,
    Conflict,
    InvalidRequest,
    InvalidTransition,
    MobError,
    PersistenceDisabled,
    SessionBusy,
    SessionError,
    SessionNotFound,
    SessionNotRunning,
    StoreError,
    StreamError,
    StreamNotFound,
    Unsupported,
)
from .ids import new_id
from .mob_state import Member, MemberState, MobDefinition, MobState, MobStatus, Profile
from .runtime import MobHandle, MobRuntime
from .model import (
    Agent,
    CoreApplyOutput,
    CreateSessionRequest,
    EventEnvelope,
    HistoryPage,
    InputState,
    MobBinding,
    RunApplyBoundary,
    RunBoundaryReceipt,
    RunResult,
    Session,
    SessionSummary,
    StartTurnRequest,
    TurnContext,
    TurnOutcome,
)
from .service import EphemeralSessionService, PersistentSessionService, SessionService
from .state import ReplayMismatch
from .streams import EventStream

__all__ = [
    "Agent",
    "AgentError",
    "CallbackPending",
    "Conflict",
    "CoreApplyOutput",
    "CreateSessionRequest",
    "EphemeralSessionService",
    "EventEnvelope",
    "EventStream",
    "HistoryPage",
    "InputState",
    "InvalidRequest",
    "InvalidTransition",
    "Member",
    "MemberState",
    "MobBinding",
    "MobDefinition",
    "MobError",
    "MobHandle",
    "MobRuntime",
    "MobState",
    "MobStatus",
    "PersistenceDisabled",
    "PersistentSessionService",
    "Profile",
    "ReplayMismatch",
    "RunApplyBoundary",
    "RunBoundaryReceipt",
    "RunResult",
    "RuntimeAdapter",
    "Session",
    "SessionBusy",
    "SessionError",
    "SessionNotFound",
    "SessionNotRunning",
    "SessionService",
    "SessionSummary",
    "StartTurnRequest",
    "StoreError",
    "StreamError",
    "StreamNotFound",
    "TurnContext",
    "TurnOutcome",
    "Unsupported",
    "new_id",
]
