"""Forking a mob: the plan read from the journal at one position, and the member sessions forked.

The plan is pure reading (the source mob's events and each member's session up to the position);
:func:`fork_members` then forks each member's session, and :func:`drop_forks` archives them
again if the new mob cannot be recorded, so a failed fork leaves no orphan behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import journal

from ..contract import MobSessionPort
from ..core import events as ev
from ..core import mob_decide as rules
from ..core.errors import MobError
from ..core.ids import new_id
from ..core.mob import MobState, MobStatus, fold_mob
from ..core.model import MobBinding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForkPlan:
    """A fork of ``source`` (the mob as it was at ``position``) into ``new_mob_id``: per member,
    (new session id, source session id, seq to fork at), and the new mob's first events."""

    source: MobState
    new_mob_id: str
    position: int
    sessions: dict[str, tuple[str, str, int]]
    events: list[journal.Event]


def plan_fork(j: journal.EventJournal, source_mob_id: str, new_mob_id: str, at_position: int | None) -> ForkPlan:
    """Read the source mob and its members' sessions at ``at_position`` (default: the head); :class:`MobError` saying what is wrong."""
    head = j.head()
    position = head if at_position is None else at_position
    if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= head:
        raise MobError(f"at_position must be a journal position from 1 to {head} (the head), got {at_position!r}")
    source = fold_mob(source_mob_id, [e for e in j.read(ev.mob_stream(source_mob_id)) if e.position <= position])
    if source.definition is None or source.status is MobStatus.DESTROYED:
        raise MobError(f"mob {source_mob_id!r} did not exist at journal position {position}; nothing to fork")
    sessions: dict[str, tuple[str, str, int]] = {}
    for member_id, entry in source.roster.items():
        seq = max((e.seq for e in j.read(ev.session_stream(entry.session_id)) if e.position <= position), default=0)
        if seq == 0:
            raise MobError(f"member {member_id!r} of mob {source_mob_id!r} has no session events at position {position}")
        sessions[member_id] = (new_id(), entry.session_id, seq)
    events = rules.decide(MobState(new_mob_id), rules.Fork(source, position, sessions, ev.now_ms()))
    return ForkPlan(source, new_mob_id, position, sessions, events)


def fork_members(service: MobSessionPort, plan: ForkPlan, forked: list[str]) -> None:
    """Fork each member's session, bound to the new mob; each new session id is added to ``forked`` as it is made."""
    for member_id, (fork_id, source_session, seq) in plan.sessions.items():
        entry = plan.source.roster[member_id]
        service.fork_session(
            source_session, at_seq=seq, new_session_id=fork_id,
            binding=MobBinding(plan.new_mob_id, entry.profile, member_id), labels=rules.fork_labels(entry, plan.new_mob_id),
        )
        forked.append(fork_id)


def drop_forks(service: MobSessionPort, forked: list[str], source_mob_id: str) -> None:
    """Archive the sessions of a fork whose mob was not recorded (a failure is logged, not raised)."""
    for fork_id in forked:
        try:
            service.archive(fork_id)
        except Exception:
            log.warning("could not archive session %s of the failed fork of mob %s", fork_id, source_mob_id, exc_info=True)
