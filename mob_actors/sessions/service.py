"""The session services: the ``MobSessionService`` contract (:mod:`mob_actors.contract`) as a facade.

:class:`SessionService` holds the contract and delegates: :mod:`.residency` keeps the live
sessions and their actors, :mod:`.lifecycle` creates, revives, archives and discards them,
:mod:`.turn` runs a turn (agent, then commit), :mod:`.toolcalls` answers a paused turn's tool
calls, :mod:`.branching` rewinds and forks, :mod:`.lookup` reads a session by id (and says why
one is not live), :mod:`.catalogue` answers ``list_sessions``, :mod:`.membership` which mob a
session belongs to, :mod:`.adapter` is the input ledger (reaching the sessions through
:mod:`.ledger_port`), and the store (:mod:`.store`) is where the two services differ.
:class:`PersistentSessionService` and :class:`EphemeralSessionService` only choose a store.

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
from ..core import requests
from ..core.errors import CallbackPending, ServiceShutDown, SessionNotRunning, StreamNotFound
from ..core.events import register_upcasters
from ..core.ids import new_id
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
from ..core.state import SessionState
from .actor import AppendContext, Checkpoint, SessionActor
from .adapter import RuntimeAdapter
from .branching import Branching
from .catalogue import Catalogue
from .ledger_port import SessionsLedgerPort
from .lifecycle import Lifecycle
from .lookup import Lookup
from .membership import MobMembership
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
            store, max_resident=max_resident, on_publish=self._published, on_failure=self._actor_failed,
            not_live=lambda session_id: self._lookup.not_live(session_id),
        )
        self._lookup = Lookup(store, self._residency, self._check_open)
        self._catalogue = Catalogue(store, self._lookup.live_view)
        self._lifecycle = Lifecycle(store, self._residency, self._catalogue, self._lookup, self.start_turn)
        self._branching = Branching(self._residency, store, self._lookup, self._lifecycle.add_new)
        self._tools = ToolCalls(self._residency, functools.partial(run_locked, self._agent, self._residency), self._check_open)
        self._adapter = RuntimeAdapter(
            SessionsLedgerPort(self._residency, store, self._lookup.state_for_read, self.apply_runtime_turn, self._tools)
        )
        self._failure_listeners: list[FailureListener] = []
        self._membership = MobMembership(self._lookup, store.durable)
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
        return self._lifecycle.create(requests.create_request(req))

    def restore_session(self, session_id: str) -> Session:
        """Make a stored session live again as it was, recording nothing, and return it.

        For a host that brings its sessions back after a restart (the mob runtime restores its
        members this way): the session did not change, so no event is written, unless it had
        been discarded, which is then recorded as revived. An archived or unknown session raises
        ``SessionNotFound`` saying which; a live one is just read.
        """
        self._check_open()
        return self._lifecycle.restore(session_id)

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
        boundary = requests.boundary(boundary, session_id)
        repeat = (lambda seq: self._lookup.stored_output(session_id, run_id, seq)) if once else None
        return run_turn(
            self._agent, self._residency, self._residency.require(session_id), run_id, req, boundary, contributing_input_ids, repeat=repeat
        )

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
        return self._lookup.state_for_read(session_id).to_session()

    def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage:
        """A page of the session's messages (archived ones too, if the store keeps their history)."""
        self._check_open()
        return self._lookup.history_page(session_id, offset, limit)

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
        state = self._lookup.durable_state(session_id)
        return None if state is None or state.archived else state.to_session()

    # -- lifecycle ---------------------------------------------------------------------------

    def archive(self, session_id: str) -> None:
        """Archive: hidden from lists, no longer live; a persistent service keeps its history."""
        self._check_open()
        self._lifecycle.archive(session_id)

    def discard_live_session(self, session_id: str) -> None:
        """Drop the live actor only; durable history stays readable and revivable."""
        self._check_open()
        self._lifecycle.discard(session_id)

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
        return self._membership.belongs(session_id, mob_id)

    def binding_matches(self, session_id: str, mob_id: str) -> bool:
        """The recorded answer: the session's binding names ``mob_id`` (archived: False)."""
        return self._membership.binding_matches(session_id, mob_id)

    def set_mob_resolver(self, mob_id: str, resolver: Callable[[str], bool] | None) -> None:
        """Let a mob's supervisor answer ``session_belongs_to_mob`` for ``mob_id`` (None removes it)."""
        self._membership.set_resolver(mob_id, resolver)

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

    def _published(self, state: SessionState) -> None:
        self._catalogue.update(state, is_live=True)

    def _actor_failed(self, session_id: str, error: BaseException) -> None:
        for listener in list(self._failure_listeners):
            try:
                listener(session_id, error)
            except Exception:
                log.warning("a failure listener raised", exc_info=True)


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
