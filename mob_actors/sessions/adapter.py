"""The runtime adapter: a ledger of inputs waiting to be applied to a session as one turn.

The ledger reaches the sessions only through :class:`LedgerPort`, the few operations it needs;
the session service hands it one. It knows nothing else of the service.
"""

from __future__ import annotations

import threading
from typing import Protocol

from ..core.errors import InvalidRequest
from ..core.ids import check_id, new_id
from ..core.model import CoreApplyOutput, InputState, RunApplyBoundary, StartTurnRequest


class LedgerPort(Protocol):
    """What the input ledger needs of a session service."""

    def accept_input(self, session_id: str, input_id: str, content: str) -> InputState:
        """Record an input of a live session (durable when it returns, if the service is)."""
        ...

    def input_state(self, session_id: str, input_id: str) -> InputState | None:
        """An input's state in its session, or None if the session is unknown or lacks it."""
        ...

    def accept_tool_result(self, session_id: str, input_id: str, tool_call_id: str, result: object, is_error: bool) -> InputState:
        """Record a tool result for a pending call (durable); the input holding it (an earlier one if any)."""
        ...

    def submit_tool_inputs(self, session_id: str, input_ids: list[str]) -> CoreApplyOutput:
        """Consume these tool-result inputs with their results, then continue the paused run."""
        ...

    def pending_inputs(self, session_id: str) -> list[InputState]:
        """The accepted, not yet consumed inputs of a live session, in acceptance order."""
        ...

    def input_index(self) -> dict[str, str]:
        """input_id -> session_id of every input accepted before this service started."""
        ...

    def apply_runtime_turn(
        self, session_id: str, run_id: str, req: StartTurnRequest, boundary: RunApplyBoundary | str, contributing_input_ids: list[str]
    ) -> CoreApplyOutput:
        """Run one turn that consumes ``contributing_input_ids`` with its own event."""
        ...


class RuntimeAdapter:
    """Accept inputs for a session, then apply all pending ones in one turn.

    In the persistent service an accepted input is durable (``input_accepted`` event), and its
    consumption is part of the turn's own event: after a crash an input is either consumed
    with its turn or still pending, never both, never lost.
    """

    def __init__(self, port: LedgerPort) -> None:
        self._port = port
        self._lock = threading.Lock()
        self._index: dict[str, str] | None = None  # input_id -> session_id, loaded on first use

    def accept_input(self, session_id: str, content: str, input_id: str | None = None) -> str:
        """Record an input for a live session and return its id; a known id is not accepted twice."""
        input_id = self._checked_id(session_id, input_id)
        index = self._load_index()
        with self._lock:
            if input_id in index:
                return input_id
        self._port.accept_input(session_id, input_id, content)
        with self._lock:
            index[input_id] = session_id
        return input_id

    def accept_tool_result(
        self, session_id: str, tool_call_id: str, result: object, *, is_error: bool = False, input_id: str | None = None
    ) -> str:
        """Record the result of a paused turn's tool call as an input; :meth:`apply_pending` submits
        it (consumed exactly once, with the ``tool_result_submitted`` that records it). Returns the
        input's id; a second result for the same call while one waits returns the first one's id."""
        input_id = self._checked_id(session_id, input_id)
        index = self._load_index()
        with self._lock:
            if input_id in index:
                return input_id
        accepted = self._port.accept_tool_result(session_id, input_id, tool_call_id, result, is_error)
        with self._lock:
            index[accepted.input_id] = session_id
        return accepted.input_id

    def input_state(self, input_id: str) -> InputState | None:
        """``accepted`` or ``consumed`` (with its run id and sequence); None for an unknown id."""
        session_id = self._load_index().get(input_id)
        return None if session_id is None else self._port.input_state(session_id, input_id)

    def pending_inputs(self, session_id: str) -> list[InputState]:
        """The accepted, not yet consumed inputs of a live session, in acceptance order."""
        return self._port.pending_inputs(session_id)

    def apply_pending(
        self, session_id: str, run_id: str | None = None, boundary: RunApplyBoundary | str = RunApplyBoundary.IMMEDIATE
    ) -> CoreApplyOutput | None:
        """Run one turn over every accepted input (None if there is none).

        Tool results go first: they are submitted to the paused turn, which then continues under
        its own run id (``run_id`` and ``boundary`` do not apply); other inputs wait for a later call.
        """
        pending = self._port.pending_inputs(session_id)
        results = [p.input_id for p in pending if p.tool_call_id is not None]
        if results:
            return self._port.submit_tool_inputs(session_id, results)
        if not pending:
            return None
        prompt = "\n\n".join(p.content for p in pending)
        return self._port.apply_runtime_turn(
            session_id, run_id or new_id(), StartTurnRequest(prompt), boundary, [p.input_id for p in pending]
        )

    @staticmethod
    def _checked_id(session_id: str, input_id: str | None) -> str:
        if input_id is None:
            return new_id()
        try:
            return check_id(input_id, "input id")
        except ValueError as e:
            raise InvalidRequest(str(e), session_id=session_id) from None

    def _load_index(self) -> dict[str, str]:
        with self._lock:
            if self._index is None:
                self._index = dict(self._port.input_index())
            return self._index
