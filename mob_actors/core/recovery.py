"""Rebuilding a session from the journal: newest snapshot, then the later events through evolve.

Shared by the persistent service (its store) and the replay tool, so both rebuild a session the
same way. It only reads; what to say about a snapshot it had to skip is up to the caller.
"""

from __future__ import annotations

from collections.abc import Callable

import journal

from . import snapshots
from .errors import StoreError
from .events import session_stream
from .state import SessionState, evolve

#: Told (stream, error) when a snapshot cannot be read and the stream is replayed from the start.
BadSnapshotListener = Callable[[str, Exception], None]


def recover(
    j: journal.EventJournal, session_id: str, *, to_seq: int | None = None, use_snapshot: bool = True,
    on_bad_snapshot: BadSnapshotListener | None = None,
) -> SessionState | None:
    """The state of ``session_id`` after event ``to_seq`` (default: the last), or None if it has no events.

    Every digest recorded on the way is checked (:class:`ReplayMismatch` names the seq). A snapshot
    that cannot be read is skipped (``on_bad_snapshot`` is told) and the stream replayed from the start.
    """
    stream = session_stream(session_id)
    state: SessionState | None = None
    if use_snapshot:
        state = _from_snapshot(j, stream, to_seq, on_bad_snapshot)
    start = state.seq + 1 if state else 1
    try:
        for event in j.read(stream, from_seq=start, to_seq=to_seq):
            state = evolve(state, event)
            if state.seq != event.seq:
                raise StoreError(
                    f"session {session_id}: replayed {state.seq} events but the journal says seq {event.seq}", session_id=session_id
                )
    except journal.JournalError as e:
        raise StoreError(f"cannot read session {session_id} from the journal: {e}", session_id=session_id) from e
    return state


def _from_snapshot(j: journal.EventJournal, stream: str, to_seq: int | None, on_bad_snapshot: BadSnapshotListener | None) -> SessionState | None:
    try:
        return snapshots.load_state(j, stream, max_seq=to_seq)
    except (journal.JournalError, StoreError, KeyError, TypeError) as e:
        if on_bad_snapshot is not None:
            on_bad_snapshot(stream, e)
        return None
