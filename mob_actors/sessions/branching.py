"""Rewinding a live session and forking a session: the service side of :mod:`mob_actors.core.branching`.

The state at an earlier event comes from the store (the journal replayed to it); the ephemeral
store keeps no history and refuses anything but the present. A rewind is one event the session's
actor records under the turn lock (no turn or tool result interleaves); a fork is a new live
session whose first event carries the conversation and its lineage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import journal

from ..core import branching
from ..core.errors import InvalidRequest, SessionBusy
from ..core.events import now_ms
from ..core.ids import new_id
from ..core.model import MobBinding, Session
from ..core.state import SessionState
from .actor import Record
from .lookup import Lookup, valid_id
from .residency import Residency
from .store import SessionStore


class Branching:
    """Rewind and fork for one session service (it hands us its parts)."""

    def __init__(
        self, residency: Residency, store: SessionStore, lookup: Lookup,
        add_new: Callable[[str, Sequence[journal.Event]], SessionState],
    ) -> None:
        self._residency = residency
        self._store = store
        self._lookup = lookup
        self._add_new = add_new  # Lifecycle.add_new: how every new session becomes live

    def rewind(self, session_id: str, to_seq: int) -> Session:
        """Set a live session's conversation back to what it was after event ``to_seq`` (see the service)."""
        live = self._residency.require(session_id)
        if not live.turn_lock.acquire(blocking=False):
            raise SessionBusy(session_id)
        try:
            state = self._residency.current(live)
            seq = branching.check_seq(state, to_seq)
            if seq != state.seq:
                target = self._state_at(session_id, seq)
                self._residency.ask(live, Record(functools.partial(_rewind, target=target)))
            return self._residency.current(live).to_session()
        finally:
            live.turn_lock.release()
            self._residency.trim()

    def fork(
        self, source_id: str, at_seq: int | None, new_session_id: str | None,
        binding: MobBinding | None = None, labels: Mapping[str, Any] | None = None,
    ) -> Session:
        """A new live session whose conversation is the source's after event ``at_seq`` (default: its last)."""
        state = self._lookup.state_for_read(source_id)
        target = state
        if at_seq is not None:
            seq = branching.check_seq(state, at_seq, "at_seq")
            if seq != state.seq:
                target = self._state_at(source_id, seq)
        fork_id = new_id() if new_session_id is None else valid_id(new_session_id)
        if fork_id in self._residency or self._store.recover(fork_id) is not None:
            raise InvalidRequest(f"session {fork_id} already exists; fork into a new session id (or none: one is made)", session_id=fork_id)
        events = branching.fork(target, fork_id, now_ms(), binding=binding, labels=labels)
        return self._add_new(fork_id, events).to_session()

    def _state_at(self, session_id: str, seq: int) -> SessionState:
        target = self._store.state_at(session_id, seq)
        if target is None or target.seq != seq:  # the journal lost events it had: say so, never guess
            raise InvalidRequest(f"session {session_id}: event {seq} cannot be read back from the store", session_id=session_id)
        return target


def _rewind(state: SessionState, now: int, *, target: SessionState) -> list[journal.Event]:
    return branching.rewind(state, target, now)
