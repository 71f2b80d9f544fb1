"""The session services: the ``MobSessionService`` contract over session actors.

:class:`PersistentSessionService` keeps every session in a journal (one stream per session);
:class:`EphemeralSessionService` keeps them in memory only. Both share this code; they differ
only in their store and in what they answer for sessions that are not live.

Threads: the agent runs on the thread that called ``start_turn``; the session's actor applies
and persists the result. Reads are answered from the view the actor last published (after its
events were durable), so a read never waits for a running turn.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import journal
import pykka

from ..core import decide
from .adapter import RuntimeAdapter
from ..core.errors import (
    AgentError,
    CallbackPending,
    InvalidRequest,
    PersistenceDisabled,
    SessionBusy,
    SessionError,
    SessionNotFound,
    SessionNotRunning,
    StoreError,
    StreamNotFound,
)
from ..core.events import now_ms, register_upcasters
from ..core.ids import check_id, new_id
from ..core.model import (
    CoreApplyOutput,
    CreateSessionRequest,
    HistoryPage,
    InputState,
    RunApplyBoundary,
    RunResult,
    Session,
    SessionSummary,
    StartTurnRequest,
    TurnContext,
    TurnOutcome,
)
from .actor import AcceptInput, ActorHooks, AppendContext, Checkpoint, CheckpointGate, CommitTurn, Record, SessionActor, TurnCommitted
from ..core.state import SessionState, evolve
from .store import JournalStore, MemoryStore, SessionStore
from .streams import EventHub, EventStream

log = logging.getLogger(__name__)

FailureListener = Callable[[str, BaseException], None]


@dataclass(eq=False)
class _Live:
    """A live session: its actor (None while passivated), the last published state, its stream."""

    id: str
    hub: EventHub
    gate: CheckpointGate = field(default_factory=CheckpointGate)
    turn_lock: threading.Lock = field(default_factory=threading.Lock)
    cancel: threading.Event | None = None
    actor: pykka.ActorRef | None = None
    stopping: pykka.Future | None = None
    view: SessionState | None = None  # a reader copy; None while passivated
    closing: bool = False  # its last event (archive/discard) is being written: never respawn it


class SessionService:
    """What both services share. Use :class:`PersistentSessionService` or :class:`EphemeralSessionService`."""

    def __init__(self, agent: Any, store: SessionStore, *, checkpoint_every: int, max_resident: int | None) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        if max_resident is not None and max_resident < 1:
            raise ValueError("max_resident must be >= 1 or None")
        self._agent = agent
        self._store = store
        self._checkpoint_every = checkpoint_every
        self._max_resident = max_resident
        self._lock = threading.RLock()
        self._live: dict[str, _Live] = {}
        self._resident: collections.OrderedDict[str, None] = collections.OrderedDict()  # LRU order
        self._adapter = RuntimeAdapter(self)
        self._failure_listeners: list[FailureListener] = []
        self._mob_resolvers: dict[str, Callable[[str], bool]] = {}
        self._closed = False

    # -- the MobSessionService flags ---------------------------------------------------------

    def supports_persistent_sessions(self) -> bool:
        """Whether this service satisfies the persistent-session contract (REQ-MOB-030)."""
        return self._store.durable

    def runtime_adapter(self) -> RuntimeAdapter:
        """The input ledger; the same object on every call."""
        return self._adapter

    # -- creating and reviving ---------------------------------------------------------------

    def create_session(self, req: CreateSessionRequest) -> Session:
        """Create a session (or revive one with durable history); run ``initial_prompt`` if given."""
        self._check_open()
        if req.session_id is not None:
            session_id = self._valid_id(req.session_id)
            revived = self._revive(session_id, req)
            if revived is not None:
                return revived
        else:
            session_id = new_id()
        state: SessionState | None = None
        events = decide.create(session_id, req, now_ms())
        self._store.append(session_id, events, 0)
        for event in events:
            state = evolve(state, event)
        assert state is not None
        with self._lock:
            live = self._register(state)
        self._catalog_update(state, is_live=True)
        if req.initial_prompt is not None:
            try:
                self.start_turn(session_id, StartTurnRequest(req.initial_prompt))
            except SessionError as e:
                # The session exists (deferred); tell the caller which one, so it can retry the turn.
                e.session_id = session_id
                raise
        return self.read(live.id)

    def _revive(self, session_id: str, req: CreateSessionRequest) -> Session | None:
        """Make a session with durable history live again; None if it has none."""
        with self._lock:
            if session_id in self._live:
                return self.read(session_id)
        state = self._store.recover(session_id)
        if state is None:
            return None
        if req.binding is not None and state.binding != req.binding:
            raise InvalidRequest(
                f"session {session_id} is stored with binding {state.binding} but the request says {req.binding}; "
                "revive it without a binding or with the stored one"
            )
        with self._lock:
            if session_id in self._live:
                return self.read(session_id)
            live = self._register(state)
        self._ask(live, Record(decide.revive))
        return self.read(session_id)

    def _register(self, state: SessionState) -> _Live:
        mob_id = state.binding.mob_id if state.binding else None
        live = _Live(state.id, EventHub(state.id, mob_id))
        live.view = state.reader_copy()
        self._live[state.id] = live
        self._spawn(live, state)
        return live

    # -- turns -------------------------------------------------------------------------------

    def start_turn(self, session_id: str, req: StartTurnRequest) -> RunResult:
        """Run one turn and return its result once it is durable."""
        out = self.apply_runtime_turn(session_id, new_id(), req, RunApplyBoundary.IMMEDIATE, [])
        if isinstance(out.terminal, CallbackPending):
            raise out.terminal
        assert out.run_result is not None
        return out.run_result

    def apply_runtime_turn(
        self, session_id: str, run_id: str, req: StartTurnRequest, boundary: RunApplyBoundary | str, contributing_input_ids: list[str]
    ) -> CoreApplyOutput:
        """Run one turn and commit it with a receipt; a second turn meanwhile gets ``SessionBusy``."""
        self._check_open()
        try:
            boundary = RunApplyBoundary(boundary)
        except ValueError:
            raise InvalidRequest(f"boundary must be one of {[b.value for b in RunApplyBoundary]}, got {boundary!r}") from None
        live = self._get_live(session_id)
        if not live.turn_lock.acquire(blocking=False):
            raise SessionBusy(session_id)
        try:
            cancel = live.cancel = threading.Event()
            state = self._current(live)
            decide.check_turn(state, req)

            def emit(type_: str, data: dict) -> None:
                if req.on_event is None:
                    live.hub.publish_quiet(type_, data)  # builds an envelope only for subscribers
                    return
                envelope = live.hub.publish(type_, data)
                try:
                    req.on_event(envelope)
                except Exception:  # a broken per-turn sink must not fail the turn
                    log.warning("on_event callback of session %s raised; ignoring it", session_id, exc_info=True)

            emit("run_started", {"session_id": session_id, "run_id": run_id, "prompt": req.prompt})
            try:
                outcome = self._run_agent(state, req, emit, cancel)
                # Only the context staged before the turn started goes in (the agent saw that much).
                committed: TurnCommitted = self._ask(
                    live, CommitTurn(run_id, req, boundary, list(contributing_input_ids), outcome, len(state.staged_context))
                )
            except BaseException as e:
                emit("run_failed", {"session_id": session_id, "run_id": run_id, "error": str(e)})
                raise
            result = None
            if isinstance(outcome, TurnOutcome):
                result = RunResult(outcome.text, dict(outcome.usage or {}), committed.receipt.message_count)
                emit("run_completed", {"session_id": session_id, "run_id": run_id, "result": outcome.text, "usage": result.usage})
            else:
                emit("run_completed", {"session_id": session_id, "run_id": run_id, "callback_pending": outcome.tool_name})
            return CoreApplyOutput(committed.receipt, committed.snapshot, result, result if result is not None else outcome)
        finally:
            live.cancel = None
            live.turn_lock.release()
            self._trim_resident()  # sessions busy when others spawned may have kept us over max_resident

    def _run_agent(self, state: SessionState, req: StartTurnRequest, emit: Callable[[str, dict], None], cancel: threading.Event) -> TurnOutcome | CallbackPending:
        session = state.to_session()
        session.messages.extend(state.staged_context)  # it lands before this turn's user message
        ctx = TurnContext(session, req, emit, cancel)
        try:
            outcome = self._agent.run_turn(ctx)
        except CallbackPending as pending:
            outcome = pending
        except SessionError:
            raise
        except Exception as e:
            raise AgentError(f"session {state.id}: the agent failed: {e!r}") from e
        if cancel.is_set():
            raise AgentError(f"session {state.id}: the turn was interrupted; nothing was recorded")
        if not isinstance(outcome, (TurnOutcome, CallbackPending)):
            raise AgentError(f"the agent returned {type(outcome).__name__}, expected TurnOutcome")
        return outcome

    def interrupt(self, session_id: str) -> None:
        """Cancel the running turn (its agent sees ``ctx.cancelled``); ``SessionNotRunning`` if idle."""
        live = self._get_live(session_id)
        cancel = live.cancel
        if cancel is None:
            raise SessionNotRunning(session_id)
        cancel.set()

    # -- reading -----------------------------------------------------------------------------

    def read(self, session_id: str) -> Session:
        """The session as last committed (never waits for a running turn)."""
        return self._state_for_read(session_id).to_session()

    def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage:
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidRequest("offset and limit must be >= 0")
        messages = self._state_for_read(session_id, history=True).messages
        count = len(messages)
        start = min(offset, count)
        end = count if limit is None else min(count, start + limit)
        return HistoryPage(session_id, count, start, limit, end < count, list(messages[start:end]))

    def has_live_session(self, session_id: str) -> bool:
        return session_id in self._live

    def live_session_ids(self) -> list[str]:
        """Every live session (resident or passivated)."""
        return list(self._live)

    def list_sessions(self) -> list[SessionSummary]:
        """Every session that is not archived (live or, if persistent, only durable), oldest first."""
        raise NotImplementedError

    def subscribe_session_events(self, session_id: str) -> EventStream:
        """A stream of a live session's events from now on; ``StreamNotFound`` if not live."""
        live = self._live.get(session_id)
        if live is None:
            raise StreamNotFound(f"session {session_id}")
        return live.hub.subscribe()

    # -- lifecycle ---------------------------------------------------------------------------

    def archive(self, session_id: str) -> None:
        """Archive: hidden from lists, no longer live; a persistent service keeps its history."""
        live = self._live.get(session_id)
        if live is None:
            self._archive_not_live(session_id)
            return
        with live.turn_lock:  # a running turn finishes first
            with live.gate.lock:  # waits for a snapshot write in flight; none starts after this
                was_cancelled, live.gate.cancelled = live.gate.cancelled, True
            # Not under the gate lock: a Checkpoint queued before the archive needs it to see the
            # cancel (holding it across the ask deadlocked the actor on that Checkpoint).
            try:
                self._ask_last(live, Record(decide.archive, stop_after=True))
            except BaseException:
                with live.gate.lock:
                    live.gate.cancelled = was_cancelled
                raise
        self._forget(live)

    def _archive_not_live(self, session_id: str) -> None:
        raise SessionNotFound(session_id, "it is not live")

    def discard_live_session(self, session_id: str) -> None:
        """Drop the live actor only; durable history stays readable and revivable."""
        live = self._live.get(session_id)
        if live is None:
            raise SessionNotFound(session_id, "it is not live")
        with live.turn_lock:
            self._ask_last(live, Record(decide.discard, stop_after=True))
        self._forget(live)

    def _ask_last(self, live: _Live, message: Record) -> Any:
        """Ask for a live session's last event; from then on nothing may bring its actor back."""
        with self._lock:
            self._current(live)
            live.closing = True
        try:
            return self._ask(live, message)
        except BaseException:
            live.closing = False
            raise

    def _forget(self, live: _Live) -> None:
        with self._lock:
            self._live.pop(live.id, None)
            self._resident.pop(live.id, None)
            live.actor = None
        live.hub.close()
        if live.view is not None:
            self._catalog_update(live.view, is_live=False)

    # -- system context ----------------------------------------------------------------------

    def append_system_context(
        self, session_id: str, text: str, source: str | None = None, idempotency_key: str | None = None
    ) -> Literal["applied", "staged", "duplicate"]:
        """Add system context: applied now, or staged for the next turn while one runs."""
        live = self._get_live(session_id)
        staged = live.turn_lock.locked()
        return self._ask(live, AppendContext(text, source, idempotency_key, staged))

    # -- checkpoints -------------------------------------------------------------------------

    def checkpoint(self, session_id: str) -> bool:
        """Snapshot a live session now (if its gate is armed); True if one was written."""
        return self._ask(self._get_live(session_id), Checkpoint(force=True))

    def cancel_all_checkpointers(self) -> None:
        """No snapshot is written after this returns (waits for any in flight) until rearm."""
        self.cancel_checkpointers(list(self._live))

    def rearm_all_checkpointers(self) -> None:
        self.rearm_checkpointers(list(self._live))

    def cancel_checkpointers(self, session_ids: list[str]) -> None:
        """Cancel the gates of these live sessions only (a mob's stop leaves other mobs alone)."""
        self._set_gates(session_ids, cancelled=True)

    def rearm_checkpointers(self, session_ids: list[str]) -> None:
        self._set_gates(session_ids, cancelled=False)

    def _set_gates(self, session_ids: list[str], cancelled: bool) -> None:
        for session_id in session_ids:
            live = self._live.get(session_id)
            if live is not None:
                with live.gate.lock:  # waits for a snapshot write in flight
                    live.gate.cancelled = cancelled

    def checkpointer_armed(self, session_id: str) -> bool:
        """Whether a live session's checkpoint gate is armed."""
        return not self._get_live(session_id).gate.cancelled

    # -- persistence queries -----------------------------------------------------------------

    def load_persisted_session(self, session_id: str) -> Session | None:
        return None

    def session_belongs_to_mob(self, session_id: str, mob_id: str) -> bool:
        """Whether the session is bound to ``mob_id``; the mob's supervisor answers when it runs."""
        try:
            resolver = self._mob_resolvers.get(mob_id)
            if resolver is not None:
                return bool(resolver(session_id))
            return self.binding_matches(session_id, mob_id)
        except Exception:
            log.warning("session_belongs_to_mob(%s, %s) failed; answering False", session_id, mob_id, exc_info=True)
            return False

    def binding_matches(self, session_id: str, mob_id: str) -> bool:
        """The durable answer: the session's stored binding names ``mob_id`` (archived: False)."""
        live = self._live.get(session_id)
        state = live.view if live is not None and live.view is not None else None
        if state is None:
            state = self._durable_state(session_id)
        return state is not None and not state.archived and state.binding is not None and state.binding.mob_id == mob_id

    # -- hooks for the mob runtime -----------------------------------------------------------

    def add_failure_listener(self, listener: FailureListener) -> None:
        """Call ``listener(session_id, error)`` when a session actor dies."""
        self._failure_listeners.append(listener)

    def set_mob_resolver(self, mob_id: str, resolver: Callable[[str], bool] | None) -> None:
        """Let a mob's supervisor answer ``session_belongs_to_mob`` for ``mob_id``."""
        if resolver is None:
            self._mob_resolvers.pop(mob_id, None)
        else:
            self._mob_resolvers[mob_id] = resolver

    def restart_session(self, session_id: str) -> Session:
        """Rebuild a live session's actor from its store (used by supervisors after a crash)."""
        live = self._get_live(session_id)
        with self._lock:
            self._passivate(live)
        self._current(live)
        return self.read(session_id)

    def actor_ref(self, session_id: str) -> pykka.ActorRef:
        """The running actor of a live session (for supervision and tests)."""
        live = self._get_live(session_id)
        self._current(live)
        assert live.actor is not None
        return live.actor

    # -- shutdown ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every session actor (nothing is lost: everything acknowledged is durable)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            lives = list(self._live.values())
            self._live.clear()
            self._resident.clear()
        for live in lives:
            if live.actor is not None:
                try:
                    live.actor.stop(block=True, timeout=10)
                except pykka.ActorDeadError:
                    pass
            live.hub.close()

    def __enter__(self) -> SessionService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- internals ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise SessionError("the session service was shut down; create a new one")

    @staticmethod
    def _valid_id(session_id: str) -> str:
        try:
            return check_id(session_id)
        except ValueError as e:
            raise InvalidRequest(str(e)) from None

    def _get_live(self, session_id: str) -> _Live:
        live = self._live.get(session_id)
        if live is None:
            raise SessionNotFound(session_id, "it is not live (unknown, archived or discarded)")
        return live

    def _state_for_read(self, session_id: str, history: bool = False) -> SessionState:
        live = self._live.get(session_id)
        if live is not None:
            view = live.view
            return view if view is not None else self._current(live)
        state = self._not_live_state(session_id, history)
        if state is None:
            raise SessionNotFound(session_id)
        return state

    def _not_live_state(self, session_id: str, history: bool) -> SessionState | None:
        return None

    def _durable_state(self, session_id: str) -> SessionState | None:
        return None

    def _spawn(self, live: _Live, state: SessionState) -> None:
        """Start the actor for ``state`` (caller holds ``self._lock``); passivate the LRU if over."""
        hooks = ActorHooks(publish=lambda s, live=live: self._published(live, s), failed=self._actor_failed)
        live.actor = SessionActor.start(
            state, self._store, live.gate, self._checkpoint_every, self._store.durable, hooks
        )
        self._resident[live.id] = None
        self._resident.move_to_end(live.id)
        self._trim_resident(keep=live)

    def _trim_resident(self, keep: _Live | None = None) -> None:
        """Passivate least recently used idle sessions while more than ``max_resident`` are resident."""
        # Checked first without the lock: this runs after every turn, and the service-wide lock
        # is contended by every client thread; the check is repeated under the lock.
        if self._max_resident is None or len(self._resident) <= self._max_resident:
            return
        with self._lock:
            if len(self._resident) <= self._max_resident:
                return
            for session_id in list(self._resident):
                if len(self._resident) <= self._max_resident:
                    break
                other = self._live.get(session_id)
                if other is not None and other is not keep and not other.turn_lock.locked():
                    self._passivate(other)

    def _passivate(self, live: _Live) -> None:
        """Stop a resident actor (nothing is lost); it comes back on the next access."""
        self._resident.pop(live.id, None)
        if live.actor is not None:
            try:
                live.stopping = live.actor.stop(block=False)
            except pykka.ActorDeadError:
                pass
            live.actor = None
        live.view = None

    def _current(self, live: _Live) -> SessionState:
        """The live session's state, bringing its actor back if it was passivated or crashed."""
        # The common case without the service-wide lock: every turn passes here (twice), and under
        # the GIL a lock contended by a hundred client threads costs more than the turn itself.
        actor, view = live.actor, live.view
        if actor is not None and view is not None and actor.is_alive():
            try:
                self._resident.move_to_end(live.id)
            except KeyError:
                pass  # passivated meanwhile: the view is still a durable state; an ask retries
            return view
        with self._lock:
            if live.actor is not None and live.actor.is_alive():
                self._resident.move_to_end(live.id)
                assert live.view is not None
                return live.view
            if live.closing or self._live.get(live.id) is not live:
                # archived, discarded or shut down meanwhile: never bring back an orphan actor
                raise SessionNotFound(live.id, "it is no longer live")
            if live.stopping is not None:
                live.stopping.get()  # the old actor must be gone before a new one writes
                live.stopping = None
            state = self._store.recover(live.id) if self._store.durable else live.view
            if state is None:
                raise SessionNotFound(live.id, "its state is lost (the ephemeral actor died)")
            live.view = state.reader_copy()
            self._spawn(live, state)
            return live.view

    def _ask(self, live: _Live, message: Any) -> Any:
        self._current(live)
        actor = live.actor
        try:
            if actor is None:  # passivated by another thread since _current: not a failure
                raise pykka.ActorDeadError(f"session {live.id} was passivated")
            return actor.ask(message)
        except pykka.ActorDeadError:
            # Passivated or crashed between our check and the ask: bring it back once.
            self._current(live)
            assert live.actor is not None
            return live.actor.ask(message)
        except StoreError:
            # The write may not have happened: drop the in-memory state; the next access rebuilds
            # the last durable one.
            with self._lock:
                self._passivate(live)
            raise
        except SessionError:
            raise
        except Exception as e:
            raise StoreError(f"session {live.id}: the session actor failed: {e!r}; it will be rebuilt from the journal") from e

    def _published(self, live: _Live, state: SessionState) -> None:
        live.view = state.reader_copy()
        self._catalog_update(live.view, is_live=True)

    def _actor_failed(self, session_id: str, error: BaseException) -> None:
        live = self._live.get(session_id)
        if live is not None:
            with self._lock:
                self._resident.pop(session_id, None)
                live.actor = None
        for listener in list(self._failure_listeners):
            try:
                listener(session_id, error)
            except Exception:
                log.warning("a failure listener raised", exc_info=True)

    def _catalog_update(self, state: SessionState, is_live: bool) -> None:
        pass

    def _pending_inputs(self, session_id: str) -> list[InputState]:
        return self._current(self._get_live(session_id)).pending_inputs()

    def _accept_input(self, session_id: str, input_id: str, content: str) -> InputState:
        return self._ask(self._get_live(session_id), AcceptInput(input_id, content))

    def _store_input_index(self) -> dict[str, str]:
        return self._store.input_index()

    def _input_state(self, session_id: str, input_id: str) -> InputState | None:
        try:
            state = self._state_for_read(session_id)
        except SessionNotFound:
            return None
        return state.input_state(input_id) if input_id in state.inputs else None


class EphemeralSessionService(SessionService):
    """Sessions in memory only: fast, and gone with the process. Not for mobs (REQ-MOB-030)."""

    def __init__(self, agent: Any, *, max_archived: int = 1000) -> None:
        super().__init__(agent, MemoryStore(), checkpoint_every=1 << 30, max_resident=None)
        self._archived: collections.OrderedDict[str, SessionState] = collections.OrderedDict()
        self._max_archived = max_archived

    def list_sessions(self) -> list[SessionSummary]:
        return [_summary(live.view, True) for live in list(self._live.values()) if live.view is not None]

    def session_belongs_to_mob(self, session_id: str, mob_id: str) -> bool:
        """False: nothing here is durable (REQ-MOB-030), unless a running mob's supervisor answers."""
        resolver = self._mob_resolvers.get(mob_id)
        return super().session_belongs_to_mob(session_id, mob_id) if resolver is not None else False

    def archive(self, session_id: str) -> None:
        live = self._live.get(session_id)
        super().archive(session_id)
        if live is not None and live.view is not None:
            view = live.view.reader_copy()
            view.archived = True
            self._archived[session_id] = view
            while len(self._archived) > self._max_archived:
                self._archived.popitem(last=False)

    def _not_live_state(self, session_id: str, history: bool) -> SessionState | None:
        archived = self._archived.get(session_id)
        if archived is not None and history:
            raise PersistenceDisabled(
                f"session {session_id} is archived and the ephemeral service keeps no history; "
                "use PersistentSessionService to read archived sessions"
            )
        return archived


class PersistentSessionService(SessionService):
    """Sessions in a journal: every turn, discard, checkpoint and archive is durable before it returns."""

    def __init__(
        self, journal_or_path: journal.Journal | str | os.PathLike[str], agent: Any, *, checkpoint_every: int = 50, max_resident: int | None = 1000
    ) -> None:
        if isinstance(journal_or_path, journal.Journal):
            self.journal = journal_or_path
            self._owns_journal = False
        else:
            self.journal = journal.open(journal_or_path)
            self._owns_journal = True
        register_upcasters(self.journal)
        super().__init__(agent, JournalStore(self.journal), checkpoint_every=checkpoint_every, max_resident=max_resident)
        self._catalog: dict[str, SessionSummary] | None = None
        self._catalog_lock = threading.Lock()

    def list_sessions(self) -> list[SessionSummary]:
        catalog = self._load_catalog()
        with self._catalog_lock:
            rows = [s for s in catalog.values() if s is not None]
        rows = [s if s.is_live == (s.id in self._live) else dataclasses.replace(s, is_live=not s.is_live) for s in rows]
        return sorted(rows, key=lambda s: (s.created_at_ms, s.id))

    def load_persisted_session(self, session_id: str) -> Session | None:
        """The durable state (newest snapshot plus later events); None if never persisted or archived."""
        state = self._durable_state(session_id)
        return None if state is None or state.archived else state.to_session()

    def _durable_state(self, session_id: str) -> SessionState | None:
        try:
            self._valid_id(session_id)
        except InvalidRequest:
            return None
        return self._store.recover(session_id)

    def _not_live_state(self, session_id: str, history: bool) -> SessionState | None:
        return self._durable_state(session_id)

    def _archive_not_live(self, session_id: str) -> None:
        state = self._durable_state(session_id)
        if state is None or state.archived:
            raise SessionNotFound(session_id, "it has no durable history" if state is None else "it is already archived")
        events = decide.archive(state, now_ms())
        self._store.append(session_id, events, state.seq)
        for event in events:
            state = evolve(state, event)
        self._catalog_update(state, is_live=False)

    def _catalog_update(self, state: SessionState, is_live: bool) -> None:
        if self._catalog is None:  # not loaded yet (nothing listed): no lock on the turn path
            return
        with self._catalog_lock:
            if self._catalog is not None:
                self._catalog[state.id] = None if state.archived else _summary(state, is_live)

    def _load_catalog(self) -> dict[str, SessionSummary | None]:
        with self._catalog_lock:
            if self._catalog is not None:
                return self._catalog
        # Built once from the journal (each session from its newest snapshot), then kept current
        # by every publish; concurrent builders just do the work twice.
        catalog: dict[str, SessionSummary | None] = {}
        for session_id in self._store.session_ids():
            live = self._live.get(session_id)
            state = live.view if live is not None and live.view is not None else self._store.recover(session_id)
            if state is not None:
                catalog[session_id] = None if state.archived else _summary(state, live is not None)
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = catalog
            return self._catalog

    def shutdown(self) -> None:
        super().shutdown()
        if self._owns_journal:
            self.journal.close()


def _summary(state: SessionState, is_live: bool) -> SessionSummary:
    return SessionSummary(
        id=state.id,
        message_count=len(state.messages),
        created_at_ms=state.created_at_ms,
        updated_at_ms=state.updated_at_ms,
        labels=dict(state.labels),
        binding=state.binding,
        is_live=is_live,
    )
