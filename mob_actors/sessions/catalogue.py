"""The catalogue: one :class:`SessionSummary` per known session, for ``list_sessions``.

Built on the first listing from the store (each stored session from its newest snapshot) and
the live sessions, then kept current by every state an actor publishes, so a listing never
replays the journal twice. Archived sessions are not listed; sessions that are not live are
listed only if the store keeps them (the persistent service).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Collection

from ..core.errors import StoreError
from ..core.model import SessionSummary
from ..core.state import SessionState
from .store import SessionStore

log = logging.getLogger(__name__)


def summary(state: SessionState, is_live: bool) -> SessionSummary:
    """The listing row of ``state``."""
    return SessionSummary(
        id=state.id,
        message_count=len(state.messages),
        created_at_ms=state.created_at_ms,
        updated_at_ms=state.updated_at_ms,
        labels=dict(state.labels),
        binding=state.binding,
        is_live=is_live,
    )


class Catalogue:
    """The rows ``list_sessions`` answers with; ``live_view`` gives a live session's last view."""

    def __init__(self, store: SessionStore, live_view: Callable[[str], SessionState | None]) -> None:
        self._store = store
        self._live_view = live_view
        self._rows: dict[str, SessionSummary] | None = None  # None until the first listing
        self._lock = threading.Lock()

    def update(self, state: SessionState, is_live: bool) -> None:
        """Record a session's newest state (published, or final when it stops being live)."""
        if self._rows is None:  # nothing listed yet: no lock on the turn path
            return
        with self._lock:
            if self._rows is None:
                return
            if state.archived or not (is_live or self._store.durable):
                self._rows.pop(state.id, None)
            else:
                self._rows[state.id] = summary(state, is_live)

    def rows(self, live_ids: Collection[str]) -> list[SessionSummary]:
        """Every listed session, oldest first, ``is_live`` as of now."""
        rows = self._load(live_ids)
        with self._lock:
            listed = list(rows.values())
            missing = [i for i in live_ids if i not in rows]
        for session_id in missing:  # went live while the catalogue was being built
            state = self._live_view(session_id)
            if state is not None and not state.archived:
                listed.append(summary(state, True))
        listed = [s if s.is_live == (s.id in live_ids) else dataclasses.replace(s, is_live=not s.is_live) for s in listed]
        return sorted(listed, key=lambda s: (s.created_at_ms, s.id))

    def _load(self, live_ids: Collection[str]) -> dict[str, SessionSummary]:
        with self._lock:
            if self._rows is not None:
                return self._rows
        # Built outside the lock (it reads the journal); concurrent builders just do the work twice.
        rows: dict[str, SessionSummary] = {}
        for session_id in dict.fromkeys([*self._store.session_ids(), *live_ids]):
            state = self._live_view(session_id)
            if state is None:
                try:
                    state = self._store.recover(session_id)
                except StoreError as e:
                    # Listed with its error: one damaged session must not hide all the others.
                    log.warning("session %s cannot be read: %s", session_id, e)
                    rows[session_id] = SessionSummary(session_id, 0, 0, 0, {}, None, False, error=str(e))
                    continue
            if state is not None and not state.archived:
                rows[session_id] = summary(state, session_id in live_ids)
        with self._lock:
            if self._rows is None:
                self._rows = rows
            return self._rows
