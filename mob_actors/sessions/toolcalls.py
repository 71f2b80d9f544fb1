"""Answering the tool calls of a paused turn: results, cancellation, and continuing the run.

A paused turn is recorded with its tool calls (see :mod:`mob_actors.core.tools`). Each result is
recorded by the session's actor on its own, durable before anything else happens; once every
call of the run has its result, the run continues on the caller's thread under the same run id,
through the same turn runner as a new turn. The turn lock is held throughout, so no other turn
or result of the session interleaves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..core import tools
from ..core.errors import InvalidRequest, SessionBusy
from ..core.events import turn_text
from ..core.model import (
    CoreApplyOutput,
    InputState,
    PendingToolCall,
    RunApplyBoundary,
    RunBoundaryReceipt,
    RunResult,
    Session,
    StartTurnRequest,
)
from ..core.state import SessionState
from .actor import Record
from .residency import LiveSession, Residency
from .turn import paused_terminal

T = TypeVar("T")

#: The service's turn runner: (live, run_id, request or None to continue, boundary, input ids) -> output.
RunLocked = Callable[[LiveSession, str, StartTurnRequest | None, RunApplyBoundary, list[str]], CoreApplyOutput]


class ToolCalls:
    """The tool-call operations of one session service (it hands us its residency and turn runner)."""

    def __init__(self, residency: Residency, run_locked: RunLocked, check_open: Callable[[], None]) -> None:
        self._residency = residency
        self._run_locked = run_locked
        self._check_open = check_open

    def submit(self, session_id: str, call_id: str, result: object, is_error: bool) -> CoreApplyOutput:
        """Record one result, then continue the run if it has them all (see ``submit_tool_result``)."""
        self._check_open()
        content = tools.tool_content(result, session_id)  # at the door: nothing is asked of the actor first
        live = self._residency.require(session_id)
        tools.check_call_id(self._residency.current(live), call_id)
        decider = functools.partial(_submit, call_id=call_id, content=content, is_error=is_error, input_id=None)
        return self._locked(live, lambda: self._record_then_continue(live, [decider], call_id))

    def submit_inputs(self, session_id: str, input_ids: list[str]) -> CoreApplyOutput:
        """Consume ledger inputs that carry tool results (each exactly once), then continue the run."""
        self._check_open()
        live = self._residency.require(session_id)
        state = self._residency.current(live)
        deciders, last = [], ""
        for input_id in input_ids:
            rec = state.inputs[input_id]
            last = rec["tool_call_id"]
            deciders.append(functools.partial(_submit, call_id=last, content=rec["content"], is_error=rec["is_error"], input_id=input_id))
        return self._locked(live, lambda: self._record_then_continue(live, deciders, last))

    def accept(self, session_id: str, input_id: str, call_id: str, result: object, is_error: bool) -> InputState:
        """Put a tool result in the ledger (durable); the input that holds it (an earlier one if any)."""
        self._check_open()
        content = tools.tool_content(result, session_id)
        live = self._residency.require(session_id)
        self._residency.ask(live, Record(functools.partial(_accept, input_id=input_id, call_id=call_id, content=content, is_error=is_error)))
        state = self._residency.current(live)
        kept = input_id if input_id in state.inputs else tools.waiting_input(state, call_id)
        assert kept is not None
        return state.input_state(kept)

    def cancel(self, session_id: str, reason: str) -> Session:
        """End the paused run without its results (see ``cancel_tool_calls``)."""
        self._check_open()
        live = self._residency.require(session_id)
        decider = functools.partial(_cancel, reason=reason)
        self._locked(live, lambda: self._residency.ask(live, Record(decider)))
        return self._residency.current(live).to_session()

    # -- internals ---------------------------------------------------------------------------

    def _locked(self, live: LiveSession, fn: Callable[[], T]) -> T:
        if not live.turn_lock.acquire(blocking=False):
            raise SessionBusy(live.id)
        try:
            return fn()
        finally:
            live.cancel = None
            live.turn_lock.release()
            self._residency.trim()

    def _record_then_continue(self, live: LiveSession, deciders: Sequence[Callable[[SessionState, int], Any]], call_id: str) -> CoreApplyOutput:
        for decider in deciders:
            self._residency.ask(live, Record(decider))
        state = self._residency.current(live)
        run_id = state.answered.get(call_id, "")
        p = state.pending
        if p is not None and p["run_id"] == run_id:
            if not p["open"]:
                return self._run_locked(live, p["run_id"], None, RunApplyBoundary(p["boundary"]), [])
            return _output(state, p["run_id"], p["boundary"], (), None, paused_terminal(p["run_id"], state.open_calls()))
        last = state.last_turn
        if p is None and last is not None and last["run_id"] == run_id:  # a repeat after its run finished
            result = RunResult(turn_text(last) or "", dict(last["usage"]), last["message_count"])
            return _output(state, run_id, last["boundary"], last["contributing_input_ids"], last, result)
        raise InvalidRequest(
            f"session {live.id}: tool call {call_id!r} was answered before and its run is over; later turns followed",
            session_id=live.id,
        )


def _output(
    state: SessionState, run_id: str, boundary: str, input_ids: Sequence[str], recorded: dict[str, Any] | None,
    terminal: RunResult | PendingToolCall,
) -> CoreApplyOutput:
    """An output for the run as the session has it now (``recorded``: its last turn's event data)."""
    receipt = RunBoundaryReceipt(
        run_id=run_id,
        boundary=RunApplyBoundary(boundary),
        contributing_input_ids=tuple(input_ids),
        conversation_digest=recorded["digest"] if recorded else state.digest.hexdigest(),
        message_count=recorded["message_count"] if recorded else len(state.messages),
        sequence=recorded["sequence"] if recorded else max(0, state.run_sequences.get(run_id, 1) - 1),
    )
    return CoreApplyOutput(receipt, state.session_bytes(), terminal if isinstance(terminal, RunResult) else None, terminal)


# Deciders the actor runs on its own state (module functions: partials of them pickle and compare).
def _submit(state: SessionState, now: int, *, call_id: str, content: Any, is_error: bool, input_id: str | None) -> Any:
    return tools.submit(state, call_id, content, is_error, input_id, now)


def _accept(state: SessionState, now: int, *, input_id: str, call_id: str, content: Any, is_error: bool) -> Any:
    return tools.accept(state, input_id, call_id, content, is_error, now)


def _cancel(state: SessionState, now: int, *, reason: str) -> Any:
    return tools.cancel(state, reason, now)
