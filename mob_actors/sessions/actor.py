"""The session actor: one pykka actor per resident session, the only writer of its stream.

It handles one message at a time: decide the events (``decide``), append them to the store
(durable before the reply under the persistent service), apply them (``evolve``), publish the
new view. The agent itself runs on the caller's thread (see the service), so the actor stays
free for context appends and checkpoints while a turn is in flight.

Every message is sent with ``ask``: a failure reaches the caller. An unexpected exception
(not a refused command) means the in-memory state can no longer be trusted, so the actor
stops itself and reports through ``on_failure``; the next access rebuilds it from the journal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

import journal

from ..core import decide, snapshots, tools
from ..core.errors import SessionError, SessionNotFound
from ..core.events import now_ms
from ..core.model import PendingToolCall, RunApplyBoundary, RunBoundaryReceipt, StartTurnRequest, TurnOutcome
from ..core.state import SessionState, evolve
from .store import SessionStore

log = logging.getLogger(__name__)


class CheckpointGate:
    """One per session: held for a whole snapshot write; while cancelled no snapshot is written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cancelled = False


# -- messages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitTurn:
    """Record a finished (or paused) turn; answered with :class:`TurnCommitted`."""

    run_id: str
    request: StartTurnRequest
    boundary: RunApplyBoundary
    input_ids: list[str]
    outcome: TurnOutcome | PendingToolCall
    staged_count: int | None = None  # staged context when the turn started (None: all)
    resume: bool = False  # the continuation of the paused run (request and input ids unused)


@dataclass(frozen=True)
class AppendContext:
    """Add system context (``staged`` while a turn runs); answered with the outcome string."""

    text: str
    source: str | None
    key: str | None
    staged: bool


@dataclass(frozen=True)
class AcceptInput:
    """Record an input in the ledger; answered with its :class:`InputState`."""

    input_id: str
    content: str


@dataclass(frozen=True)
class Checkpoint:
    """Snapshot now if due (or always with ``force``) and the gate is armed; answered True if written."""

    force: bool = False


@dataclass(frozen=True)
class Record:
    """Append a lifecycle event (``decide.archive``/``discard``/``revive``) and stop if asked."""

    decider: Callable[[SessionState, int], list[journal.Event]]
    stop_after: bool = False


@dataclass(frozen=True)
class TurnCommitted:
    """The answer to :class:`CommitTurn`: the receipt, and a function giving the session's bytes
    after the turn (rendered only if someone reads ``CoreApplyOutput.session_snapshot``)."""

    receipt: RunBoundaryReceipt
    snapshot: Callable[[], bytes]
    callback: dict[str, Any] | None = None  # the turn's callback: it paused on these calls


@dataclass(frozen=True)
class ActorHooks:
    """How the actor talks back to its service (called on the actor's thread)."""

    publish: Callable[[SessionState], None]
    failed: Callable[[str, BaseException], None]


class SessionActor(pykka.ThreadingActor):
    """The only writer of one session's stream: decide, store, evolve, publish, one message at a time."""

    use_daemon_thread = True  # a host that exits without shutdown() must not hang on us

    def __init__(self, state: SessionState, store: SessionStore, gate: CheckpointGate, hooks: ActorHooks) -> None:
        super().__init__()
        self.state = state
        self.store = store
        self.gate = gate
        self.hooks = hooks
        self._failure_reported = False
        self._retired = False  # a Record with stop_after was applied

    def on_receive(self, message: Any) -> Any:
        """Handle one message; a refused command leaves the state as it was, anything else stops the actor."""
        if self._retired:
            # pykka queues a stop behind what is already in the mailbox: refuse what came in after
            # the archive/discard instead of writing it after the session's last event.
            raise SessionNotFound(self.state.id, "it was archived or discarded")
        try:
            return self._handle(message)
        except SessionError:
            raise  # a refused command: the state is untouched, the caller gets the reason
        except Exception as e:
            log.error("session %s actor failed on %r; stopping it, it will be rebuilt from the journal", self.state.id, message, exc_info=True)
            self._failure_reported = True
            self.hooks.failed(self.state.id, e)
            self.stop()
            raise

    def on_failure(self, exception_type: type[BaseException] | None, exception_value: BaseException | None, traceback: Any) -> None:
        """Report a failure on the tell path (pykka calls this; the actor is gone afterwards)."""
        # Reached only when a message sent with tell raised (ask sends failures back instead);
        # on_receive has usually reported it already.
        if not self._failure_reported:
            self.hooks.failed(self.state.id, exception_value or RuntimeError("session actor died"))

    def _handle(self, message: Any) -> Any:
        match message:
            case CommitTurn():
                return self._commit_turn(message)
            case AppendContext(text, source, key, staged):
                events, outcome = decide.append_context(self.state, text, source, key, staged, now_ms())
                self._persist(events)
                return outcome
            case AcceptInput(input_id, content):
                self._persist(decide.accept_input(self.state, input_id, content, now_ms()))
                return self.state.input_state(input_id)
            case Checkpoint(force):
                return self._checkpoint(force)
            case Record(decider, stop_after):
                self._persist(decider(self.state, now_ms()))
                if stop_after:
                    self._retired = True
                    self.stop()
                return self.state.to_session()
        raise TypeError(f"session actor got an unknown message {message!r}")

    def _persist(self, events: list[journal.Event]) -> None:
        if not events:
            return
        # Durable first, then applied: what the caller is told is always in the journal.
        self.store.append(self.state.id, events, self.state.seq)
        for event in events:
            self.state = evolve(self.state, event)
        self.hooks.publish(self.state)

    def _commit_turn(self, m: CommitTurn) -> TurnCommitted:
        if m.resume:
            events = tools.continuation(self.state, outcome=m.outcome, count_sequence=self.store.durable, now=now_ms())
        else:
            events = decide.turn(
                self.state, run_id=m.run_id, req=m.request, boundary=m.boundary, input_ids=m.input_ids,
                outcome=m.outcome, count_sequence=self.store.durable, now=now_ms(), staged_count=m.staged_count,
            )
        self._persist(events)
        receipt = decide.receipt_of(events[0].data)
        every = self.store.checkpoint_every
        if every is not None and snapshots.due(self.state, every):
            self.actor_ref.tell(Checkpoint())  # after the reply: the caller does not wait for it
        return TurnCommitted(receipt, self.state.session_bytes_later(), events[0].data["callback"])

    def _checkpoint(self, force: bool) -> bool:
        """Snapshot + ``checkpointed`` event under the gate. Failures are logged, never fatal."""
        if not self.store.durable:
            return False
        with self.gate.lock:
            if self.gate.cancelled:
                return False
            if not force and self.state.seq == self.state.checkpoint_seq:
                return False
            try:
                self.store.save_snapshot(self.state)
                self._persist(decide.checkpoint(self.state, now_ms()))
            except SessionError as e:
                log.warning("checkpoint of session %s failed: %s", self.state.id, e)
                return False
            return True
