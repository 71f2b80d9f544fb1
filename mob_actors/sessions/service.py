"""The session services: the ``MobSessionService`` contract (:mod:`mob_actors.contract`) as a facade.

:class:`SessionService` holds the contract and delegates: :mod:`.residency` keeps the live
sessions and their actors, :mod:`.turn` runs a turn (agent, then commit), :mod:`.catalogue`
answers ``list_sessions``, :mod:`.adapter` is the input ledger (reaching the sessions through
:mod:`.ledger_port`), and the store (:mod:`.store`) is where the two services differ. :class:`PersistentSessionService` and :class:`EphemeralSessionService` only
choose a store.

Threads: the agent runs on the thread that called ``start_turn``; the session's actor applies
and persists the result. Reads are answered from the view the actor last published (after its
events were durable), so a read never waits for a running turn.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pykka

import journal

from ..contract import ContextOutcome, FailureListener, MobSessionPort, MobSessionService
from ..core import decide, requests
from ..core.errors import (
    AgentError,
    CallbackPending,
    Conflict,
    InvalidRequest,
    ServiceShutDown,
    SessionError,
    SessionNotFound,
    SessionNotRunning,
    StoreError,
    StreamNotFound,
)
from ..core.events import now_ms, register_upcasters
from ..core.ids import check_id, new_id
from ..core.model import (
    Agent,
    CoreApplyOutput,
    CreateSessionRequest,
    HistoryPage,
    MobBinding,
    PendingToolCall,
    RunApplyBoundary,
    RunResult,
    Session,
    SessionSummary,
    StartTurnRequest,
)
from ..core.state import SessionState, evolve
from .actor import AppendContext, Checkpoint, Record, SessionActor
from .adapter import RuntimeAdapter
from .branching import Branching
from .catalogue import Catalogue
from .ledger_port import SessionsLedgerPort
from .residency import Residency, check_max_resident
from .store import JournalStore, MemoryStore, SessionStore, check_checkpoint_every, check_keep_snapshots
from .streams import EventStream
from .toolcalls import ToolCalls
from .turn import check_agent, run_locked, run_turn

log = logging.getLogger(__name__)


def result_of(out: CoreApplyOutput, session_id: str) -> RunResult:
    """The ``RunResult`` of an applied turn; a turn paused on a tool raises ``CallbackPending``."""
    if isinstance(out.terminal, PendingToolCall):
        raise CallbackPending.of(out.terminal, session_id=session_id)
    assert out.run_result is not None
    return out.run_result


class SessionService:
    """The session-service contract over a store. Use :class:`PersistentSessionService` or
    :class:`EphemeralSessionService`; call :meth:`shutdown` (or use ``with``) when done."""

    def __init__(self, agent: Agent, store: SessionStore, *, max_resident: int | None) -> None:
        self._agent = check_agent(agent)
        self._store = store
        self._residency = Residency(
            store, max_resident=max_resident, on_publish=self._published, on_failure=self._actor_failed, not_live=self._not_live
        )
        self._catalogue = Catalogue(store, self._live_view)
        self._branching = Branching(self._residency, store, self._catalogue, self._state_for_read, self._valid_id)
        self._tools = ToolCalls(self._residency, functools.partial(run_locked, self._agent, self._residency), self._check_open)
        self._adapter = RuntimeAdapter(SessionsLedgerPort(self._residency, store, self._state_for_read, self.apply_runtime_turn, self._tools))
        self._failure_listeners: list[FailureListener] = []
        self._mob_resolvers: dict[str, Callable[[str], bool]] = {}
        self._closed = False

    # -- the MobSessionService flags ---------------------------------------------------------

    def supports_persistent_sessions(self) -> bool:
        """True when sessions outlive the process: they are kept in a journal and come back after
        a restart (the persistent service). Mobs need this unless the runtime is opened with
        ``allow_ephemeral_sessions=True``."""
        return self._store.durable

    def runtime_adapter(self) -> RuntimeAdapter:
        """The input ledger; the same object on every call."""
        return self._adapter

    # -- creating and reviving ---------------------------------------------------------------

    def create_session(self, req: CreateSessionRequest) -> Session:
        """Create a session (or revive one with durable history); run ``initial_prompt`` if given.

        If the initial turn fails, the session still exists (deferred) and the error's
        ``session_id`` names it, so the turn can be retried with :meth:`start_turn`. A malformed
        request (wrong types, NaN, nesting deeper than the limit) raises ``InvalidRequest``.
        """
        self._check_open()
        req = requests.create_request(req)
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
        self._residency.add(state)
        self._catalogue.update(state, is_live=True)
        if req.initial_prompt is not None:
            try:
                self.start_turn(session_id, StartTurnRequest(req.initial_prompt))
            except SessionError as e:
                if e.session_id == session_id:
                    raise
                # Raised by the agent about something else: say which session it left deferred.
                raise AgentError(
                    f"session {session_id} was created but its initial prompt failed: {e}; retry it with start_turn",
                    session_id=session_id,
                ) from e
        return self.read(session_id)

    def _revive(self, session_id: str, req: CreateSessionRequest) -> Session | None:
        """Make a session with durable history live again; None if it has none."""
        if session_id in self._residency:
            return self.read(session_id)
        state = self._store.recover(session_id)
        if state is None:
            return None
        if req.binding is not None and state.binding != req.binding:
            raise InvalidRequest(
                f"session {session_id} is stored with binding {state.binding} but the request says {req.binding}; "
                "revive it without a binding or with the stored one",
                session_id=session_id,
            )
        return self._make_live(state, record=True)

    def restore_session(self, session_id: str) -> Session:
        """Make a stored session live again as it was, recording nothing, and return it.

        For a host that brings its sessions back after a restart (the mob runtime restores its
        members this way): the session did not change, so no event is written, unless it had
        been discarded, which is then recorded as revived. An archived or unknown session raises
        ``SessionNotFound`` saying which; a live one is just read.
        """
        self._check_open()
        session_id = self._valid_id(session_id)
        if session_id in self._residency:
            return self.read(session_id)
        state = self._store.recover(session_id)
        if state is None or state.archived:
            raise self._not_live(session_id)
        return self._make_live(state, record=state.discarded)

    def _make_live(self, state: SessionState, *, record: bool) -> Session:
        with self._residency.lock:
            if state.id in self._residency:
                return self.read(state.id)
            live = self._residency.add(state)
        if record:
            self._residency.ask(live, Record(decide.revive))
        return self.read(state.id)

    # -- turns -------------------------------------------------------------------------------

    def start_turn(self, session_id: str, req: StartTurnRequest) -> RunResult:
        """Run one turn and return its result once it is durable; a paused turn raises ``CallbackPending``."""
        return result_of(self.apply_runtime_turn(session_id, new_id(), req, RunApplyBoundary.IMMEDIATE, []), session_id)

    def apply_runtime_turn(
        self, session_id: str, run_id: str, req: StartTurnRequest, boundary: RunApplyBoundary | str, contributing_input_ids: list[str],
        *, once: bool = False,
    ) -> CoreApplyOutput:
        """Run one turn and commit it with a receipt; a second turn meanwhile gets ``SessionBusy``.

        ``once=True`` makes ``run_id`` a request id applied at most once: if a turn with it is
        already committed on this session, its stored output comes back and the agent does not run
        (a client retrying after a timeout or a failover cannot apply a turn twice). The
        persistent service rebuilds that output from the journal; the ephemeral one keeps no past
        results and raises ``Conflict`` instead.
        """
        self._check_open()
        # Every argument is checked before the agent runs: a bad one must not cost an agent call.
        req = requests.turn_request(req, session_id)
        run_id = requests.run_id(run_id, session_id)
        contributing_input_ids = requests.input_ids(contributing_input_ids, session_id)
        try:
            boundary = RunApplyBoundary(boundary)
        except ValueError:
            raise InvalidRequest(
                f"boundary must be one of {[b.value for b in RunApplyBoundary]}, got {boundary!r}", session_id=session_id
            ) from None
        repeat = (lambda seq: self._stored_output(session_id, run_id, seq)) if once else None
        return run_turn(
            self._agent, self._residency, self._residency.require(session_id), run_id, req, boundary, contributing_input_ids, repeat=repeat
        )

    def _stored_output(self, session_id: str, run_id: str, seq: int) -> CoreApplyOutput:
        found = self._store.committed_turn(session_id, seq)
        if found is None:
            raise Conflict(
                f"session {session_id}: request {run_id!r} was already applied (event {seq}) and this service keeps "
                "no results of past turns; use a new run id for a new turn",
                session_id=session_id,
            )
        data, after = found
        return decide.stored_output(data, after.session_bytes())

    # -- tool calls of paused turns --------------------------------------------------------

    def submit_tool_result(self, session_id: str, tool_call_id: str, result: object, *, is_error: bool = False) -> CoreApplyOutput:
        """Answer a pending tool call of a paused turn; once every call has its result, continue
        the same run (same run id) until the agent finishes or pauses again.

        Returns that run's output: its receipt and ``RunResult``, or a ``PendingToolCall`` for the
        calls still waiting. ``result`` is a string, a list of content parts or any JSON value
        (stored as its JSON text); ``is_error`` marks a tool that failed. The result is durable
        before the agent sees it; submitting it again records nothing more (and continues the
        run if the agent failed the first time). A call the session never made gets
        ``UnknownToolCall``.
        """
        return self._tools.submit(session_id, tool_call_id, result, is_error)

    def cancel_tool_calls(self, session_id: str, reason: str = "cancelled by the host") -> Session:
        """End a paused turn without running its calls: each gets a tool message (``is_error``)
        saying so, and the session takes new turns again. ``InvalidRequest`` if none is paused."""
        return self._tools.cancel(session_id, reason)

    # -- going back and branching ----------------------------------------------------------

    def rewind(self, session_id: str, to_seq: int) -> Session:
        """Make a live session's visible conversation what it was after event ``to_seq``.

        Recorded as a ``rewound`` event: the journal keeps every event, and ``mob-replay`` shows
        the abandoned ones. A paused turn at ``to_seq`` is paused again; receipts' sequences, the
        input ledger and usage totals are not rewound (what happened, happened). ``SessionBusy``
        while a turn runs; ``PersistenceDisabled`` on the ephemeral service (it keeps no history).
        """
        self._check_open()
        return self._branching.rewind(session_id, to_seq)

    def fork_session(
        self, source_id: str, *, at_seq: int | None = None, new_session_id: str | None = None,
        binding: MobBinding | None = None, labels: dict[str, Any] | None = None,
    ) -> Session:
        """A new live session whose conversation is the source's after event ``at_seq`` (default:
        its last); the source is untouched. Its first event records the lineage (source id, seq,
        conversation digest), which ``mob-replay verify`` checks. It keeps the source's metadata
        and labels (or ``labels``), and belongs to no mob unless ``binding`` says so.
        """
        self._check_open()
        return self._branching.fork(source_id, at_seq, new_session_id, binding, labels)

    def interrupt(self, session_id: str) -> None:
        """Cancel the running turn (its agent sees ``ctx.cancelled``); ``SessionNotRunning`` if idle."""
        self._check_open()
        cancel = self._residency.require(session_id).cancel
        if cancel is None:
            raise SessionNotRunning(session_id)
        cancel.set()

    # -- reading -----------------------------------------------------------------------------

    def read(self, session_id: str) -> Session:
        """The session as last committed (never waits for a running turn)."""
        self._check_open()
        return self._state_for_read(session_id).to_session()

    def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage:
        """A page of the session's messages (archived ones too, if the store keeps their history)."""
        self._check_open()
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidRequest("offset and limit must be >= 0", session_id=session_id)
        messages = self._state_for_read(session_id, history=True).messages
        count = len(messages)
        start = min(offset, count)
        end = count if limit is None else min(count, start + limit)
        return HistoryPage(session_id, count, start, limit, end < count, list(messages[start:end]))

    def has_live_session(self, session_id: str) -> bool:
        """True while the session is live (created or revived, not archived or discarded)."""
        return session_id in self._residency

    def live_session_ids(self) -> list[str]:
        """Every live session (resident or passivated)."""
        return self._residency.ids()

    def list_sessions(self) -> list[SessionSummary]:
        """Every session that is not archived (live or, if the store keeps them, only stored), oldest first.

        A stored session whose events are damaged is listed with its ``error`` (the others are not affected).
        """
        self._check_open()
        return self._catalogue.rows(frozenset(self._residency.ids()))

    def subscribe_session_events(self, session_id: str) -> EventStream:
        """A stream of a live session's events from now on; ``StreamNotFound`` if not live."""
        self._check_open()
        live = self._residency.get(session_id)
        if live is None:
            raise StreamNotFound(f"session {session_id}", session_id=session_id)
        return live.hub.subscribe()

    def load_persisted_session(self, session_id: str) -> Session | None:
        """The durable state (newest snapshot plus later events); None if never persisted, archived or ephemeral."""
        self._check_open()
        state = self._durable_state(session_id)
        return None if state is None or state.archived else state.to_session()

    # -- lifecycle ---------------------------------------------------------------------------

    def archive(self, session_id: str) -> None:
        """Archive: hidden from lists, no longer live; a persistent service keeps its history."""
        self._check_open()
        live = self._residency.get(session_id)
        if live is None:
            self._archive_stored(session_id)
            return
        view = self._residency.retire(live, Record(decide.archive, stop_after=True), close_gate=True)
        if view is not None:
            self._catalogue.update(view, is_live=False)
            self._store.retire(view)

    def _archive_stored(self, session_id: str) -> None:
        """Archive a session that is not live, from its durable state."""
        state = self._durable_state(session_id)
        if state is None or state.archived:
            raise SessionNotFound(session_id, "it is not live and has no stored history" if state is None else "it is already archived")
        events = decide.archive(state, now_ms())
        self._store.append(session_id, events, state.seq)
        for event in events:
            state = evolve(state, event)
        self._catalogue.update(state, is_live=False)

    def discard_live_session(self, session_id: str) -> None:
        """Drop the live actor only; durable history stays readable and revivable."""
        self._check_open()
        live = self._residency.require(session_id)
        view = self._residency.retire(live, Record(decide.discard, stop_after=True), close_gate=False)
        if view is not None:
            self._catalogue.update(view, is_live=False)

    # -- system context and checkpoints ------------------------------------------------------

    def append_system_context(
        self, session_id: str, text: str, source: str | None = None, idempotency_key: str | None = None
    ) -> ContextOutcome:
        """Add system context: applied now, or staged for the next turn while one runs."""
        self._check_open()
        text = requests.text_arg(text, "text", session_id)
        source = requests.optional_text_arg(source, "source", session_id)
        idempotency_key = requests.optional_text_arg(idempotency_key, "idempotency_key", session_id)
        live = self._residency.require(session_id)
        # Staged while a paused turn waits too: its tool results must follow its tool calls.
        staged = live.turn_lock.locked() or self._residency.current(live).pending is not None
        outcome: ContextOutcome = self._residency.ask(live, AppendContext(text, source, idempotency_key, staged))
        return outcome

    def checkpoint(self, session_id: str) -> bool:
        """Snapshot a live session now (if its gate is armed and the store is durable); True if one was written."""
        self._check_open()
        written: bool = self._residency.ask(self._residency.require(session_id), Checkpoint(force=True))
        return written

    def cancel_all_checkpointers(self) -> None:
        """No snapshot is written after this returns (waits for any in flight) until rearm."""
        self.cancel_checkpointers(self._residency.ids())

    def rearm_all_checkpointers(self) -> None:
        """Re-enable every gate that :meth:`cancel_all_checkpointers` cancelled."""
        self.rearm_checkpointers(self._residency.ids())

    def cancel_checkpointers(self, session_ids: list[str]) -> None:
        """Cancel the gates of these live sessions only (a mob's stop leaves other mobs alone)."""
        self._residency.set_gates(session_ids, cancelled=True)

    def rearm_checkpointers(self, session_ids: list[str]) -> None:
        """Re-enable the gates of these live sessions."""
        self._residency.set_gates(session_ids, cancelled=False)

    def checkpointer_armed(self, session_id: str) -> bool:
        """Whether a live session's checkpoint gate is armed."""
        return not self._residency.require(session_id).gate.cancelled

    # -- mobs --------------------------------------------------------------------------------

    def session_belongs_to_mob(self, session_id: str, mob_id: str) -> bool:
        """Whether the session is bound to ``mob_id``; the mob's supervisor answers when it runs.

        Without one, the stored binding answers, and a store that keeps nothing says False.
        """
        try:
            resolver = self._mob_resolvers.get(mob_id)
            if resolver is not None:
                return bool(resolver(session_id))
            return self._store.durable and self.binding_matches(session_id, mob_id)
        except Exception:
            log.warning("session_belongs_to_mob(%s, %s) failed; answering False", session_id, mob_id, exc_info=True)
            return False

    def binding_matches(self, session_id: str, mob_id: str) -> bool:
        """The recorded answer: the session's binding names ``mob_id`` (archived: False)."""
        state = self._live_view(session_id)
        if state is None:
            state = self._durable_state(session_id)
        return state is not None and not state.archived and state.binding is not None and state.binding.mob_id == mob_id

    def set_mob_resolver(self, mob_id: str, resolver: Callable[[str], bool] | None) -> None:
        """Let a mob's supervisor answer ``session_belongs_to_mob`` for ``mob_id`` (None removes it)."""
        if resolver is None:
            self._mob_resolvers.pop(mob_id, None)
        else:
            self._mob_resolvers[mob_id] = resolver

    def add_failure_listener(self, listener: FailureListener) -> None:
        """Call ``listener(session_id, error)`` when a session actor dies outside any request."""
        self._failure_listeners.append(listener)

    def restart_session(self, session_id: str) -> Session:
        """Rebuild a live session's actor from its store (used by supervisors after a crash)."""
        self._check_open()
        self._residency.restart(self._residency.require(session_id))
        return self.read(session_id)

    def actor_ref(self, session_id: str) -> pykka.ActorRef[SessionActor]:
        """The running actor of a live session (for supervision and tests)."""
        return self._residency.actor_ref(self._residency.require(session_id))

    # -- shutdown ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every session actor and close the store (nothing is lost: everything acknowledged is durable)."""
        with self._residency.lock:
            if self._closed:
                return
            self._closed = True
        self._residency.close()
        self._store.close()

    def __enter__(self) -> SessionService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- internals ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ServiceShutDown()

    def _not_live(self, session_id: str) -> SessionError:
        """Why ``session_id`` is not live, and how to make it live again (read only on this error path)."""
        self._check_open()
        if not _is_id(session_id):
            return SessionNotFound(session_id, "unknown: session ids are UUID strings and no session has this one")
        revive = f"revive it with create_session(CreateSessionRequest(session_id={session_id!r}))"
        try:
            state = self._store.stored_state(session_id, for_history=False)
        except StoreError as e:
            return SessionNotFound(session_id, f"it is not live, and its stored events cannot be read: {e}")
        if state is None:
            if self._store.durable:
                return SessionNotFound(session_id, "unknown: the journal has no session with this id")
            return SessionNotFound(
                session_id, "unknown to this service (never created here, or discarded: the ephemeral service keeps nothing of it)"
            )
        if state.archived:
            if not self._store.durable:
                return SessionNotFound(session_id, "it is archived, and the ephemeral service keeps no history to revive it from")
            return SessionNotFound(session_id, f"it is archived (its history is kept); {revive}")
        if state.discarded:
            return SessionNotFound(session_id, f"it was discarded (its history is kept); {revive}")
        return SessionNotFound(session_id, f"it is stored but not live in this service (it was live before a restart); {revive}")

    @staticmethod
    def _valid_id(session_id: str) -> str:
        try:
            return check_id(session_id)
        except ValueError as e:
            raise InvalidRequest(str(e)) from None

    def _live_view(self, session_id: str) -> SessionState | None:
        live = self._residency.get(session_id)
        return live.view if live is not None else None

    def _state_for_read(self, session_id: str, history: bool = False) -> SessionState:
        live = self._residency.get(session_id)
        if live is not None:
            view = live.view
            return view if view is not None else self._residency.current(live)
        state = self._store.stored_state(session_id, for_history=history) if _is_id(session_id) else None
        if state is None:
            raise SessionNotFound(session_id)
        return state

    def _durable_state(self, session_id: str) -> SessionState | None:
        return self._store.recover(session_id) if _is_id(session_id) else None

    def _published(self, state: SessionState) -> None:
        self._catalogue.update(state, is_live=True)

    def _actor_failed(self, session_id: str, error: BaseException) -> None:
        for listener in list(self._failure_listeners):
            try:
                listener(session_id, error)
            except Exception:
                log.warning("a failure listener raised", exc_info=True)


def _is_id(session_id: str) -> bool:
    try:
        check_id(session_id)
    except ValueError:
        return False
    return True


class EphemeralSessionService(SessionService):
    """Sessions in memory only: fast, and gone with the process. Mobs refuse it unless the
    runtime allows ephemeral sessions (a mob must come back after a restart).

    An archived session stays readable (not its history) until ``max_archived`` newer ones push it out.
    """

    def __init__(self, agent: Agent, *, max_archived: int = 1000) -> None:
        super().__init__(agent, MemoryStore(max_archived=max_archived), max_resident=None)


class PersistentSessionService(SessionService):
    """Sessions in a journal: every turn, discard, checkpoint and archive is durable before it returns.

    ``checkpoint_every``: snapshot a session after that many events (None: only on :meth:`checkpoint`).
    A snapshot is a small head plus the messages added since the previous one, so each message is
    written to a snapshot once however long the session grows; the head (run ids, inputs) grows
    with the session, so snapshots then come no more often than one event per 100 head entries.
    ``keep_snapshots``: how many of each session's newest snapshots to keep (default 2; None: all).
    Older ones are deleted after a new one is durable: recovery needs only the newest, and a
    second one keeps recovery quick if the newest is ever unreadable.
    ``max_resident``: at most that many session actors run; idle ones are passivated (None: no limit).
    A journal given as a path is opened here and closed by :meth:`shutdown`.
    """

    def __init__(
        self, journal_or_path: journal.EventJournal | str | os.PathLike[str], agent: Agent, *,
        checkpoint_every: int | None = 50, keep_snapshots: int | None = 2, max_resident: int | None = 1000,
    ) -> None:
        check_checkpoint_every(checkpoint_every)  # before the journal is opened: a bad value leaks nothing
        check_keep_snapshots(keep_snapshots)
        check_max_resident(max_resident)
        check_agent(agent)
        if isinstance(journal_or_path, journal.EventJournal):
            self.journal, owns = journal_or_path, False
        else:
            self.journal, owns = journal.open(journal_or_path), True
        register_upcasters(self.journal)
        super().__init__(agent, JournalStore(self.journal, checkpoint_every=checkpoint_every, keep_snapshots=keep_snapshots, owns_journal=owns), max_resident=max_resident)


if TYPE_CHECKING:
    # The static half of the contract test: mypy fails here if either service drifts from the
    # Protocol (tests/sessions/test_session_contract.py checks the same at run time).
    def _satisfy_the_contract(p: PersistentSessionService, e: EphemeralSessionService) -> None:
        persistent: MobSessionService = p
        ephemeral: MobSessionService = e
        port: MobSessionPort = p
        del persistent, ephemeral, port
