"""Deciding a rewind and a fork: going back to an earlier point of a conversation, or branching from it.

Both start from ``target``, the state a session's events gave after event N (the caller replays
the journal to it). A rewind records a ``rewound`` event in the same session: the visible
conversation becomes the target's, and the events after N stay in the journal, abandoned. A fork
is a new session whose first event (``session_created`` with ``forked_from``) holds the target's
conversation and its lineage: the source's id, N and the conversation digest there. Pure, like
:mod:`.decide`: no I/O, no clock, nothing is changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import journal

from . import events as ev
from .errors import InvalidRequest
from .model import MobBinding
from .state import SessionState


def check_seq(state: SessionState, seq: object, what: str = "to_seq") -> int:
    """``seq`` if it names an event of the session (1 to its last); else ``InvalidRequest``."""
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= state.seq:
        raise InvalidRequest(
            f"session {state.id}: {what} must be an event seq from 1 to {state.seq} (its last), got {seq!r}",
            session_id=state.id,
        )
    return seq


def rewind(state: SessionState, target: SessionState, now: int) -> list[journal.Event]:
    """The ``rewound`` event that sets the conversation back to ``target``'s (nothing if it already is)."""
    if target.seq == state.seq:
        return []
    return [ev.REWOUND(
        to_seq=target.seq, messages=list(target.messages), pending=target.pending, deferred=target.deferred,
        digest=target.digest.hexdigest(), message_count=len(target.messages), at_ms=now,
    )]


def fork(
    target: SessionState, new_session_id: str, now: int, *, binding: MobBinding | None = None, labels: Mapping[str, Any] | None = None,
) -> list[journal.Event]:
    """The first event of a fork of ``target``'s session at ``target.seq``: its conversation and lineage.

    The fork keeps the source's metadata and (unless given) labels; a paused turn stays paused in
    it. It belongs to no mob unless ``binding`` says so (a mob fork binds its members' forks).
    """
    lineage = {
        "source_id": target.id, "seq": target.seq, "digest": target.digest.hexdigest(), "message_count": len(target.messages),
        "pending": target.pending, "deferred": target.deferred,
    }
    return [ev.SESSION_CREATED(
        session_id=new_session_id, created_at_ms=now, messages=list(target.messages), metadata=dict(target.metadata),
        labels=dict(target.labels if labels is None else labels), binding=binding.to_dict() if binding else None,
        forked_from=lineage,
    )]


def abandoned(events: list[tuple[int, str, Any]]) -> set[int]:
    """The seqs a session's rewinds abandoned, given its ``(seq, type, data)`` in order (for replay views)."""
    gone: set[int] = set()
    for seq, type_, data in events:
        if type_ == ev.REWOUND.name and isinstance(data, dict) and isinstance(data.get("to_seq"), int):
            gone.update(range(data["to_seq"] + 1, seq))
    return gone
