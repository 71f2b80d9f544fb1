"""A session's life in a service: created, revived or restored, archived, discarded.

Each step is decided by :mod:`mob_actors.core.decide` and written to the store before the
session's live set (:mod:`.residency`) and the listing (:mod:`.catalogue`) change. A new session
(created, or forked by :mod:`.branching`) always enters through :meth:`Lifecycle.add_new`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import journal

from ..core import decide
from ..core.errors import AgentError, InvalidRequest, SessionError, SessionNotFound
from ..core.events import now_ms
from ..core.ids import new_id
from ..core.model import CreateSessionRequest, RunResult, Session, StartTurnRequest
from ..core.state import SessionState, evolve
from .actor import Record
from .catalogue import Catalogue
from .lookup import Lookup, valid_id
from .residency import Residency
from .store import SessionStore


def _folded(state: SessionState | None, events: Sequence[journal.Event]) -> SessionState:
    for event in events:
        state = evolve(state, event)
    assert state is not None
    return state


class Lifecycle:
    """Creating, reviving, archiving and discarding the sessions of one service (it hands us its parts)."""

    def __init__(
        self, store: SessionStore, residency: Residency, catalogue: Catalogue, lookup: Lookup,
        start_turn: Callable[[str, StartTurnRequest], RunResult],
    ) -> None:
        self._store = store
        self._residency = residency
        self._catalogue = catalogue
        self._lookup = lookup
        self._start_turn = start_turn

    def _read(self, session_id: str) -> Session:
        return self._lookup.state_for_read(session_id).to_session()

    def add_new(self, session_id: str, events: Sequence[journal.Event]) -> SessionState:
        """Write a new session's first events, then make it live and listed; its state."""
        self._store.append(session_id, events, 0)
        state = _folded(None, events)
        self._residency.add(state)
        self._catalogue.update(state, is_live=True)
        return state

    def create(self, req: CreateSessionRequest) -> Session:
        """Create a session (or revive one with durable history); run ``initial_prompt`` if given
        (see ``SessionService.create_session``). ``req`` is already validated."""
        if req.session_id is not None:
            session_id = valid_id(req.session_id)
            revived = self._revive(session_id, req)
            if revived is not None:
                return revived
        else:
            session_id = new_id()
        self.add_new(session_id, decide.create(session_id, req, now_ms()))
        if req.initial_prompt is not None:
            try:
                self._start_turn(session_id, StartTurnRequest(req.initial_prompt))
            except SessionError as e:
                if e.session_id == session_id:
                    raise
                # Raised by the agent about something else: say which session it left deferred.
                raise AgentError(
                    f"session {session_id} was created but its initial prompt failed: {e}; retry it with start_turn",
                    session_id=session_id,
                ) from e
        return self._read(session_id)

    def _revive(self, session_id: str, req: CreateSessionRequest) -> Session | None:
        """Make a session with durable history live again; None if it has none."""
        if session_id in self._residency:
            return self._read(session_id)
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

    def restore(self, session_id: str) -> Session:
        """Make a stored session live again as it was (see ``SessionService.restore_session``)."""
        session_id = valid_id(session_id)
        if session_id in self._residency:
            return self._read(session_id)
        state = self._store.recover(session_id)
        if state is None or state.archived:
            raise self._lookup.not_live(session_id)
        return self._make_live(state, record=state.discarded)

    def _make_live(self, state: SessionState, *, record: bool) -> Session:
        with self._residency.lock:
            if state.id in self._residency:
                return self._read(state.id)
            live = self._residency.add(state)
        if record:
            self._residency.ask(live, Record(decide.revive))
        return self._read(state.id)

    def archive(self, session_id: str) -> None:
        """Archive a live or only stored session (see ``SessionService.archive``)."""
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
        state = self._lookup.durable_state(session_id)
        if state is None or state.archived:
            raise SessionNotFound(session_id, "it is not live and has no stored history" if state is None else "it is already archived")
        events = decide.archive(state, now_ms())
        self._store.append(session_id, events, state.seq)
        self._catalogue.update(_folded(state, events), is_live=False)

    def discard(self, session_id: str) -> None:
        """Drop the live actor only (see ``SessionService.discard_live_session``)."""
        live = self._residency.require(session_id)
        view = self._residency.retire(live, Record(decide.discard, stop_after=True), close_gate=False)
        if view is not None:
            self._catalogue.update(view, is_live=False)
