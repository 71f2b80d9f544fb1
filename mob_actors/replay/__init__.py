"""``mob-replay``: replay and debug the journal of mob_actors sessions and mobs.

The command line (``mob-replay --help``, or ``python -m mob_actors.replay``) lists sessions
and mobs, shows timelines, rebuilds a session as it was after any event, verifies every digest
against a from-scratch replay, diffs, exports/imports a session, follows a running host and
renders a session as an HTML page. It reads journals read-only, through the public journal API
and the library's own fold (:func:`mob_actors.state.evolve`), so it shows exactly what a host
would recover, and it works on the journal of a host that is running.

For programs, :func:`rebuild` gives a session as of any seq::

    import journal
    from mob_actors.replay import rebuild

    with journal.open("data", readonly=True) as j:
        session = rebuild(j, session_id, to_seq=12)
"""

from __future__ import annotations

import journal

from ..core.errors import SessionNotFound
from ..core.model import Session
from ..core.recovery import recover

__all__ = ["rebuild"]


def rebuild(j: journal.EventJournal, session_id: str, *, to_seq: int | None = None) -> Session:
    """The session as it was right after event ``to_seq`` (default: its last event).

    Uses the newest snapshot at or before ``to_seq`` and replays the later events; every digest
    recorded on the way is checked (:class:`mob_actors.ReplayMismatch` names the seq). Raises
    :class:`mob_actors.SessionNotFound` if the journal has no events of ``session_id``.
    """
    state = recover(j, session_id, to_seq=to_seq)
    if state is None:
        raise SessionNotFound(session_id, f"no events in journal {j.path}")
    return state.to_session()
