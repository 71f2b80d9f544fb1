"""Rebuilding a session from the journal: newest snapshot, then the later events through evolve."""

from __future__ import annotations

import logging

import journal

from .errors import StoreError
from .events import session_stream
from .state import SessionState, evolve

log = logging.getLogger(__name__)


def recover(j: journal.Journal, session_id: str, *, to_seq: int | None = None, use_snapshot: bool = True) -> SessionState | None:
    """The state of ``session_id`` after event ``to_seq`` (default: the last), or None if it has no events.

    Every digest recorded on the way is checked (:class:`ReplayMismatch` names the seq). A snapshot
    that cannot be read is skipped with a warning and the stream is replayed from the start.
    """
    stream = session_stream(session_id)
    state: SessionState | None = None
    if use_snapshot:
        state = _from_snapshot(j, stream, to_seq)
    start = state.seq + 1 if state else 1
    try:
        for event in j.read(stream, from_seq=start, to_seq=to_seq):
            state = evolve(state, event)
            if state.seq != event.seq:
                raise StoreError(f"session {session_id}: replayed {state.seq} events but the journal says seq {event.seq}")
    except journal.JournalError as e:
        raise StoreError(f"cannot read session {session_id} from the journal: {e}") from e
    return state


def _from_snapshot(j: journal.Journal, stream: str, to_seq: int | None) -> SessionState | None:
    try:
        snap = j.load_snapshot(stream, max_seq=to_seq)
        return SessionState.from_snapshot(snap.state) if snap else None
    except (journal.JournalError, StoreError, KeyError, TypeError) as e:
        log.warning("ignoring an unreadable snapshot of %s, replaying from the start: %s", stream, e)
        return None
