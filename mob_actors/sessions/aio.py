"""``AsyncSessionService``: the session-service contract as coroutines that never block the event loop.

pykka futures block when awaited, so each call runs in a worker thread (``asyncio.to_thread``).
Every method of :class:`~mob_actors.contract.MobSessionService` has a coroutine twin here with
the same parameters (a test checks it), except the two that never block and stay plain:
``supports_persistent_sessions`` and ``runtime_adapter``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from ..contract import ContextOutcome, FailureListener, MobSessionService
from ..core.model import (
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
from .adapter import RuntimeAdapter
from .streams import EventStream


class AsyncSessionService:
    """Wraps a session service; each contract method is a coroutine here (the two flags stay plain)."""

    def __init__(self, service: MobSessionService) -> None:
        self.service = service

    # -- plain: they never block -------------------------------------------------------------

    def supports_persistent_sessions(self) -> bool:
        """Whether sessions survive a restart of the process."""
        return self.service.supports_persistent_sessions()

    def runtime_adapter(self) -> RuntimeAdapter:
        """The service's input ledger (its methods are synchronous)."""
        return self.service.runtime_adapter()

    # -- sessions and turns ------------------------------------------------------------------

    async def create_session(self, req: CreateSessionRequest) -> Session:
        """Create (or revive) a session; see ``create_session``."""
        return await asyncio.to_thread(self.service.create_session, req)

    async def start_turn(self, session_id: str, req: StartTurnRequest) -> RunResult:
        """Run one turn; the loop keeps running while the agent does."""
        return await asyncio.to_thread(self.service.start_turn, session_id, req)

    async def apply_runtime_turn(
        self, session_id: str, run_id: str, req: StartTurnRequest, boundary: RunApplyBoundary | str, contributing_input_ids: list[str],
        *, once: bool = False,
    ) -> CoreApplyOutput:
        """Run one turn under ``run_id``, consuming those inputs; returns the receipt (``once``: at most once per run id)."""
        return await asyncio.to_thread(self.service.apply_runtime_turn, session_id, run_id, req, boundary, contributing_input_ids, once=once)

    async def submit_tool_result(self, session_id: str, tool_call_id: str, result: object, *, is_error: bool = False) -> CoreApplyOutput:
        """Answer a paused turn's tool call; with every result in, the same run continues."""
        return await asyncio.to_thread(self.service.submit_tool_result, session_id, tool_call_id, result, is_error=is_error)

    async def cancel_tool_calls(self, session_id: str, reason: str = "cancelled by the host") -> Session:
        """End a paused turn without running its calls."""
        return await asyncio.to_thread(self.service.cancel_tool_calls, session_id, reason)

    async def rewind(self, session_id: str, to_seq: int) -> Session:
        """Set the conversation back to what it was after event ``to_seq``."""
        return await asyncio.to_thread(self.service.rewind, session_id, to_seq)

    async def fork_session(
        self, source_id: str, *, at_seq: int | None = None, new_session_id: str | None = None,
        binding: MobBinding | None = None, labels: dict[str, Any] | None = None,
    ) -> Session:
        """A new session branched from the source after ``at_seq``."""
        return await asyncio.to_thread(
            functools.partial(self.service.fork_session, source_id, at_seq=at_seq, new_session_id=new_session_id, binding=binding, labels=labels)
        )

    async def interrupt(self, session_id: str) -> None:
        """Ask the running turn to stop."""
        await asyncio.to_thread(self.service.interrupt, session_id)

    async def append_system_context(
        self, session_id: str, text: str, source: str | None = None, idempotency_key: str | None = None
    ) -> ContextOutcome:
        """Add system context ("staged" while a turn runs)."""
        return await asyncio.to_thread(self.service.append_system_context, session_id, text, source, idempotency_key)

    # -- reading -----------------------------------------------------------------------------

    async def read(self, session_id: str) -> Session:
        """The session as its last durable event left it."""
        return await asyncio.to_thread(self.service.read, session_id)

    async def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage:
        """A page of the session's messages."""
        return await asyncio.to_thread(self.service.read_history, session_id, offset, limit)

    async def list_sessions(self) -> list[SessionSummary]:
        """A summary of every session the service knows."""
        return await asyncio.to_thread(self.service.list_sessions)

    async def has_live_session(self, session_id: str) -> bool:
        """True while the session is live."""
        return await asyncio.to_thread(self.service.has_live_session, session_id)

    async def live_session_ids(self) -> list[str]:
        """The ids of every live session."""
        return await asyncio.to_thread(self.service.live_session_ids)

    async def load_persisted_session(self, session_id: str) -> Session | None:
        """The stored session, or None."""
        return await asyncio.to_thread(self.service.load_persisted_session, session_id)

    async def subscribe_session_events(self, session_id: str) -> EventStream:
        """A live stream of the session's events (iterate it with ``async for``)."""
        return await asyncio.to_thread(self.service.subscribe_session_events, session_id)

    # -- lifecycle ---------------------------------------------------------------------------

    async def archive(self, session_id: str) -> None:
        """Archive the session."""
        await asyncio.to_thread(self.service.archive, session_id)

    async def discard_live_session(self, session_id: str) -> None:
        """Discard the live session (its history stays)."""
        await asyncio.to_thread(self.service.discard_live_session, session_id)

    async def restore_session(self, session_id: str) -> Session:
        """Make a stored session live again as it was, recording nothing."""
        return await asyncio.to_thread(self.service.restore_session, session_id)

    async def restart_session(self, session_id: str) -> Session:
        """Start a fresh actor for a live session from its journal."""
        return await asyncio.to_thread(self.service.restart_session, session_id)

    async def shutdown(self) -> None:
        """Stop every actor and close the store."""
        await asyncio.to_thread(self.service.shutdown)

    # -- checkpoints -------------------------------------------------------------------------

    async def checkpoint(self, session_id: str) -> bool:
        """Take a snapshot now; False when the gate is cancelled."""
        return await asyncio.to_thread(self.service.checkpoint, session_id)

    async def cancel_checkpointers(self, session_ids: list[str]) -> None:
        """Stop periodic snapshots of these sessions."""
        await asyncio.to_thread(self.service.cancel_checkpointers, session_ids)

    async def rearm_checkpointers(self, session_ids: list[str]) -> None:
        """Resume periodic snapshots of these sessions."""
        await asyncio.to_thread(self.service.rearm_checkpointers, session_ids)

    async def cancel_all_checkpointers(self) -> None:
        """Cancel every checkpointer gate."""
        await asyncio.to_thread(self.service.cancel_all_checkpointers)

    async def rearm_all_checkpointers(self) -> None:
        """Re-enable every gate that was cancelled."""
        await asyncio.to_thread(self.service.rearm_all_checkpointers)

    # -- mobs --------------------------------------------------------------------------------

    async def session_belongs_to_mob(self, session_id: str, mob_id: str) -> bool:
        """Whether a listed session belongs to the mob; never raises."""
        return await asyncio.to_thread(self.service.session_belongs_to_mob, session_id, mob_id)

    async def binding_matches(self, session_id: str, mob_id: str) -> bool:
        """True when the session's recorded binding names ``mob_id``."""
        return await asyncio.to_thread(self.service.binding_matches, session_id, mob_id)

    async def set_mob_resolver(self, mob_id: str, resolver: Callable[[str], bool] | None) -> None:
        """Let ``session_belongs_to_mob`` ask the mob's supervisor (None removes it)."""
        await asyncio.to_thread(self.service.set_mob_resolver, mob_id, resolver)

    async def add_failure_listener(self, listener: FailureListener) -> None:
        """Be told when a session's actor dies outside any caller's request."""
        await asyncio.to_thread(self.service.add_failure_listener, listener)
