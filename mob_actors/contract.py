"""The contracts, in code: what a session service offers, and what mobs need of one.

:class:`MobSessionService` is the whole session-service contract (the original system's
``MobSessionService`` trait with its comms, control and history supertraits, as synchronous
Python methods). Both :class:`~mob_actors.PersistentSessionService` and
:class:`~mob_actors.EphemeralSessionService` satisfy it, and a test checks that they do.

:class:`MobSessionPort` is the narrower part of it that the mob supervisor and the runtime call.
They are typed against the port, so a mob never depends on how a service keeps its sessions.

Both are :func:`typing.runtime_checkable`, so ``isinstance(service, MobSessionService)`` checks
that every method is present (not their signatures; mypy checks those).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .core.model import (
        CoreApplyOutput,
        CreateSessionRequest,
        HistoryPage,
        MobBinding,
        RunApplyBoundary,
        RunResult,
        Session,
        SessionSummary,
        StartTurnRequest,
    )
    from .sessions.adapter import RuntimeAdapter
    from .sessions.streams import EventStream

#: Called with (session_id, error) when a session's actor dies outside any caller's request.
FailureListener = Callable[[str, BaseException], None]

ContextOutcome = Literal["applied", "staged", "duplicate"]


@runtime_checkable
class MobSessionPort(Protocol):
    """What the mob supervisor and :class:`~mob_actors.MobRuntime` call on a session service."""

    def supports_persistent_sessions(self) -> bool:
        """True when sessions survive a restart of the process (the persistent service)."""
        ...

    def create_session(self, req: CreateSessionRequest) -> Session:
        """Create a session (or revive an archived one under the same id) and return it."""
        ...

    def start_turn(self, session_id: str, req: StartTurnRequest) -> RunResult:
        """Run one turn through the agent; durable when it returns."""
        ...

    def apply_runtime_turn(
        self,
        session_id: str,
        run_id: str,
        req: StartTurnRequest,
        boundary: RunApplyBoundary | str,
        contributing_input_ids: list[str],
        *,
        once: bool = False,
    ) -> CoreApplyOutput:
        """Run one turn under ``run_id``, consuming those inputs; returns the receipt.

        ``once=True``: ``run_id`` is a request id, applied at most once (a repeat gets the stored output)."""
        ...

    def interrupt(self, session_id: str) -> None:
        """Ask the running turn of a session to stop; raises ``SessionNotRunning`` if none runs."""
        ...

    def read(self, session_id: str) -> Session:
        """The session as its last durable event left it."""
        ...

    def has_live_session(self, session_id: str) -> bool:
        """True while the session is live (created or revived, not archived or discarded)."""
        ...

    def live_session_ids(self) -> list[str]:
        """The ids of every live session."""
        ...

    def archive(self, session_id: str) -> None:
        """Record that the session is archived and stop its actor; its history stays readable."""
        ...

    def load_persisted_session(self, session_id: str) -> Session | None:
        """The stored session (live or not), or None when the service keeps nothing."""
        ...

    def binding_matches(self, session_id: str, mob_id: str) -> bool:
        """True when the session's recorded mob binding names ``mob_id``."""
        ...

    def set_mob_resolver(self, mob_id: str, resolver: Callable[[str], bool] | None) -> None:
        """Let ``session_belongs_to_mob`` ask the mob's supervisor (None removes it)."""
        ...

    def cancel_checkpointers(self, session_ids: list[str]) -> None:
        """Stop periodic snapshots of these sessions (a write in flight completes first)."""
        ...

    def rearm_checkpointers(self, session_ids: list[str]) -> None:
        """Resume periodic snapshots of these sessions."""
        ...

    def add_failure_listener(self, listener: FailureListener) -> None:
        """Be told when a session's actor dies outside any caller's request."""
        ...

    def restore_session(self, session_id: str) -> Session:
        """Make a stored, not archived session live again as it was, without recording anything
        (a restart is no change to the session); a discarded one is revived. Raises
        ``SessionNotFound`` saying why when there is nothing to restore."""
        ...

    def restart_session(self, session_id: str) -> Session:
        """Start a fresh actor for a live session from its journal (after a crash)."""
        ...

    def fork_session(
        self, source_id: str, *, at_seq: int | None = None, new_session_id: str | None = None,
        binding: MobBinding | None = None, labels: dict[str, Any] | None = None,
    ) -> Session:
        """A new session whose conversation is the source's after ``at_seq``, with its lineage
        (a mob fork forks every member this way)."""
        ...

    def shutdown(self) -> None:
        """Stop every actor and close the store; later calls raise an error saying so."""
        ...


@runtime_checkable
class MobSessionService(MobSessionPort, Protocol):
    """The full session-service contract that hosts and mobs build on."""

    def runtime_adapter(self) -> RuntimeAdapter:
        """The runtime adapter: an input ledger whose consumption is atomic with a turn."""
        ...

    def submit_tool_result(self, session_id: str, tool_call_id: str, result: object, *, is_error: bool = False) -> CoreApplyOutput:
        """Answer a paused turn's tool call; with every result in, continue the same run."""
        ...

    def cancel_tool_calls(self, session_id: str, reason: str = "cancelled by the host") -> Session:
        """End a paused turn without running its calls (each gets an is_error tool message)."""
        ...

    def rewind(self, session_id: str, to_seq: int) -> Session:
        """Make the visible conversation what it was after event ``to_seq`` (recorded as an event)."""
        ...

    def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage:
        """A page of the session's messages."""
        ...

    def list_sessions(self) -> list[SessionSummary]:
        """A summary of every session the service knows."""
        ...

    def subscribe_session_events(self, session_id: str) -> EventStream:
        """A live stream of the session's events, whichever call caused them."""
        ...

    def discard_live_session(self, session_id: str) -> None:
        """Record that the live session is discarded and stop its actor."""
        ...

    def append_system_context(
        self, session_id: str, text: str, source: str | None = None, idempotency_key: str | None = None
    ) -> ContextOutcome:
        """Add system context; "staged" while a turn runs (it joins the next turn)."""
        ...

    def checkpoint(self, session_id: str) -> bool:
        """Take a snapshot now; False when the checkpointer gate is cancelled."""
        ...

    def cancel_all_checkpointers(self) -> None:
        """Cancel every checkpointer gate; in-flight saves complete, later ones are no-ops."""
        ...

    def rearm_all_checkpointers(self) -> None:
        """Re-enable every gate that :meth:`cancel_all_checkpointers` cancelled."""
        ...

    def session_belongs_to_mob(self, session_id: str, mob_id: str) -> bool:
        """Whether a listed session belongs to the mob (for reconciliation); never raises."""
        ...
