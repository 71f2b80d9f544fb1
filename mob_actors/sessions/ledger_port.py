"""The input ledger's port onto a session service: live sessions through residency, the store's index.

The ledger (:mod:`.adapter`) is typed against :class:`~.adapter.LedgerPort` only; this is the
implementation a :class:`~.service.SessionService` hands it, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core import requests
from ..core.errors import SessionNotFound
from ..core.model import CoreApplyOutput, InputState, RunApplyBoundary, StartTurnRequest
from ..core.state import SessionState
from .actor import AcceptInput
from .residency import Residency
from .store import SessionStore
from .toolcalls import ToolCalls


class SessionsLedgerPort:
    """A service's live sessions and store as its input ledger sees them (:class:`~.adapter.LedgerPort`)."""

    def __init__(
        self, residency: Residency, store: SessionStore, read_state: Callable[[str], SessionState],
        apply: Callable[[str, str, StartTurnRequest, RunApplyBoundary | str, list[str]], CoreApplyOutput],
        tools: ToolCalls,
    ) -> None:
        self._residency = residency
        self._store = store
        self._read_state = read_state
        self._apply = apply
        self._tools = tools

    def accept_tool_result(self, session_id: str, input_id: str, tool_call_id: str, result: object, is_error: bool) -> InputState:
        """Record a tool result for a pending call of the paused turn (the tool-call operations do it)."""
        return self._tools.accept(session_id, input_id, tool_call_id, result, is_error)

    def submit_tool_inputs(self, session_id: str, input_ids: list[str]) -> CoreApplyOutput:
        """Consume tool-result inputs and continue the paused run."""
        return self._tools.submit_inputs(session_id, input_ids)

    def accept_input(self, session_id: str, input_id: str, content: str) -> InputState:
        """Ask the live session's actor to record the input (its content checked first)."""
        content = requests.text_arg(content, "content", session_id)
        accepted: InputState = self._residency.ask(self._residency.require(session_id), AcceptInput(input_id, content))
        return accepted

    def input_state(self, session_id: str, input_id: str) -> InputState | None:
        """The input's state, read as the service reads (live view or stored state)."""
        try:
            state = self._read_state(session_id)
        except SessionNotFound:
            return None
        return state.input_state(input_id) if input_id in state.inputs else None

    def pending_inputs(self, session_id: str) -> list[InputState]:
        """The live session's accepted, unconsumed inputs."""
        return self._residency.current(self._residency.require(session_id)).pending_inputs()

    def input_index(self) -> dict[str, str]:
        """The store's index of inputs accepted before this service started."""
        return self._store.input_index()

    def apply_runtime_turn(
        self, session_id: str, run_id: str, req: StartTurnRequest, boundary: RunApplyBoundary | str, contributing_input_ids: list[str]
    ) -> CoreApplyOutput:
        """The service's own turn, which consumes the inputs."""
        return self._apply(session_id, run_id, req, boundary, contributing_input_ids)
