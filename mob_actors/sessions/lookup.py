"""Reading a session by id: the live view, the stored state, and why a session is not live.

Shared by the service facade and its helpers (:mod:`.lifecycle`, :mod:`.branching`,
:mod:`.catalogue`): one place decides where a read comes from and what a missing session's
error says.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core import decide
from ..core.errors import Conflict, InvalidRequest, SessionError, SessionNotFound, StoreError
from ..core.ids import check_id
from ..core.model import CoreApplyOutput, HistoryPage
from ..core.state import SessionState
from .residency import Residency
from .store import SessionStore


def is_id(session_id: str) -> bool:
    """Whether ``session_id`` has the form of a session id (a UUID string)."""
    try:
        check_id(session_id)
    except ValueError:
        return False
    return True


def valid_id(session_id: str) -> str:
    """``session_id`` checked, or ``InvalidRequest`` saying what is wrong with it."""
    try:
        return check_id(session_id)
    except ValueError as e:
        raise InvalidRequest(str(e)) from None


class Lookup:
    """Where a session's state is read from: its live view if live, else the store."""

    def __init__(self, store: SessionStore, residency: Residency, check_open: Callable[[], None]) -> None:
        self._store = store
        self._residency = residency
        self._check_open = check_open

    def live_view(self, session_id: str) -> SessionState | None:
        """The view a live session last published; None if not live (or nothing published yet)."""
        live = self._residency.get(session_id)
        return live.view if live is not None else None

    def state_for_read(self, session_id: str, history: bool = False) -> SessionState:
        """The state a read answers from: the live view, or the stored state; ``SessionNotFound`` if neither."""
        live = self._residency.get(session_id)
        if live is not None:
            view = live.view
            return view if view is not None else self._residency.current(live)
        state = self._store.stored_state(session_id, for_history=history) if is_id(session_id) else None
        if state is None:
            raise SessionNotFound(session_id)
        return state

    def durable_state(self, session_id: str) -> SessionState | None:
        """The durable state (newest snapshot plus later events); None if the store has none."""
        return self._store.recover(session_id) if is_id(session_id) else None

    def history_page(self, session_id: str, offset: int, limit: int | None) -> HistoryPage:
        """A page of the session's messages, ``limit`` of them from ``offset`` (None: all the rest)."""
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidRequest("offset and limit must be >= 0", session_id=session_id)
        messages = self.state_for_read(session_id, history=True).messages
        count = len(messages)
        start = min(offset, count)
        end = count if limit is None else min(count, start + limit)
        return HistoryPage(session_id, count, start, limit, end < count, list(messages[start:end]))

    def stored_output(self, session_id: str, run_id: str, seq: int) -> CoreApplyOutput:
        """The output of the turn committed at ``seq`` (request ``run_id`` repeated), rebuilt from the
        store; ``Conflict`` from a store that keeps no past results."""
        found = self._store.committed_turn(session_id, seq)
        if found is None:
            raise Conflict(
                f"session {session_id}: request {run_id!r} was already applied (event {seq}) and this service keeps "
                "no results of past turns; use a new run id for a new turn",
                session_id=session_id,
            )
        data, after = found
        return decide.stored_output(data, after.session_bytes())

    def not_live(self, session_id: str) -> SessionError:
        """Why ``session_id`` is not live, and how to make it live again (read only on this error path)."""
        self._check_open()
        if not is_id(session_id):
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
