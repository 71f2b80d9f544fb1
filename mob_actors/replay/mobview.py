"""``mob``: a mob's roster as its events rebuild it, with the one mob fold the supervisor uses.

The fold (:func:`mob_actors.mob_state.evolve_mob`) gives the definition, status, epoch and
roster with wiring. Beside it this adds, per member, what its session's own stream says (live,
discarded or archived, and how many events), and the epochs: where each ``mob_created`` or
``mob_reset`` started one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import journal

from ..core import events as ev
from ..core.errors import MobError
from ..core.mob import MobState, MobStatus, evolve_mob
from .jsonval import to_json
from .listing import SESSION_LIFECYCLE
from .source import Damaged, read_stream
from .timeline import iso_time, row


@dataclass
class MobView:
    mob_id: str
    state: MobState
    events: list[dict[str, Any]] = field(default_factory=list)  # timeline rows of the mob stream
    epochs: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # the first event that could not be read or applied

    def to_json(self) -> dict[str, Any]:
        definition = self.state.definition
        return {
            "mob_id": self.mob_id,
            "status": self.state.status.value,
            "epoch": self.state.epoch,
            "seq": self.state.seq,
            "updated_at": iso_time(self.state.updated_at_ms) if self.state.updated_at_ms else None,
            "definition": to_json(definition.to_dict()) if definition else None,
            "members": self.members,
            "epochs": self.epochs,
            "events": self.events,
            "problem": self.problem,
        }


def session_status(j: journal.EventJournal, session_id: str) -> dict[str, Any]:
    """What a member's session stream says: its lifecycle status and event count."""
    status = "missing"
    count = 0
    for item in read_stream(j, ev.session_stream(session_id)):
        if isinstance(item, Damaged):
            return {"session_status": "damaged", "session_events": count}
        count += 1
        status = SESSION_LIFECYCLE.get(item.type, status)
    return {"session_status": status, "session_events": count}


def view_mob(j: journal.EventJournal, mob_id: str) -> MobView:
    """Rebuild ``mob_id`` from its stream; the fold stops at the first event it cannot apply."""
    state = MobState(mob_id)
    view = MobView(mob_id, state)
    for item in read_stream(j, ev.mob_stream(mob_id)):
        view.events.append(row(item))
        if view.problem is not None:
            continue  # keep listing events, but the roster is as of the last good one
        if isinstance(item, Damaged):
            view.problem = f"damaged record at {item.where()}: {item.reason}"
            continue
        try:
            state = evolve_mob(state, item)
        except (MobError, KeyError, TypeError, ValueError, AttributeError) as e:
            view.problem = f"seq {item.seq} ({item.type}) does not apply: {e!r}"
            continue
        # An epoch starts with the first mob_created, and again with each reset (written as
        # mob_created + mob_reset together: the pair counts once, where the epoch number moves).
        if item.type in (ev.MOB_CREATED.name, ev.MOB_RESET.name) and (not view.epochs or view.epochs[-1]["epoch"] != state.epoch):
            view.epochs.append({"epoch": state.epoch, "seq": item.seq, "time": iso_time(item.timestamp_ms), "by": item.type})
    if not view.events and j.highest_seq(ev.mob_stream(mob_id)) > 0:
        # Destroying a mob deletes all its events (mob_destroyed included); the runtime reads an
        # empty history the same way.
        state = replace(state, status=MobStatus.DESTROYED)
        view.problem = None
    view.state = state
    for member_id in sorted(state.roster):
        entry = state.roster[member_id]
        member: dict[str, Any] = {
            "member_id": member_id,
            "profile": entry.profile,
            "state": "active",  # every member the events keep is active; retiring/broken are runtime-only
            "session_id": entry.session_id,
            "wired_to": sorted(entry.wired_to),
            "labels": to_json(entry.labels),
        }
        member.update(session_status(j, entry.session_id))
        view.members.append(member)
    return view
