"""``ls``: every session and mob in a journal, from one pass over its events.

A session is *live* unless it is archived or its last lifecycle event (created, revived,
discarded, archived) is ``discarded``; that is exactly what the services do with it. A mob's
status is what the mob fold (:func:`mob_actors.mob_state.evolve_mob`) says.

One pass over ``read_all`` gives every stream's last activity and lifecycle at once, which is
far cheaper than replaying each session. A damaged record is listed and the pass goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import journal

from ..core import events as ev
from ..core import snapshots
from ..core.errors import MobError
from ..core.mob import MobState, evolve_mob
from .source import Damaged, read_everything

# The session events that change whether a session is live, and what each makes it.
SESSION_LIFECYCLE = {
    ev.SESSION_CREATED.name: "live",
    ev.SESSION_REVIVED.name: "live",
    ev.DISCARDED.name: "discarded",
    ev.ARCHIVED.name: "archived",
}


@dataclass
class Entry:
    """One row of ``ls``."""

    id: str
    kind: str  # "session" or "mob"
    events: int = 0
    last_activity_ms: int = 0
    status: str = "unknown"  # session: live | discarded | archived; mob: a MobStatus value
    mob_id: str | None = None
    member_id: str | None = None
    profile: str | None = None
    members: int | None = None  # mobs: roster size
    event_bytes: int = 0  # what its records take in the journal (journal.stored_size)
    snapshot_bytes: int = 0  # sessions: snapshot heads and their message parts
    forked_from: str | None = None  # a fork's source: "SESSION@seq" or "MOB@position"
    mob: MobState | None = field(default=None, repr=False)

    @property
    def live(self) -> bool:
        return self.status == "live" if self.kind == "session" else self.status not in ("completed", "destroyed")

    def to_json(self) -> dict[str, Any]:
        from .timeline import iso_time

        return {
            "id": self.id,
            "kind": self.kind,
            "mob_id": self.mob_id,
            "member_id": self.member_id,
            "profile": self.profile,
            "members": self.members,
            "events": self.events,
            "event_bytes": self.event_bytes,
            "snapshot_bytes": self.snapshot_bytes,
            "last_activity_ms": self.last_activity_ms,
            "last_activity": iso_time(self.last_activity_ms) if self.last_activity_ms else None,
            "status": self.status,
            "live": self.live,
            "forked_from": self.forked_from,
        }


def list_journal(
    j: journal.EventJournal,
    *,
    on_plan: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Entry], list[Damaged]]:
    """Every session and mob (sessions first, each in id order) and the damaged records seen."""
    entries: dict[str, Entry] = {}
    for kind, prefix in (("session", ev.SESSION_STREAM_PREFIX), ("mob", ev.MOB_STREAM_PREFIX)):
        for info in j.streams(prefix):
            entry = Entry(info.stream_id[len(prefix):], kind, events=info.highest_seq - info.deleted_to)
            size = j.stored_size(info.stream_id)
            entry.event_bytes, entry.snapshot_bytes = size.events, size.snapshots
            if kind == "session":  # its snapshots' message parts live in a snapshot-only stream
                entry.snapshot_bytes += j.stored_size(snapshots.parts_stream(info.stream_id)).snapshots
            if kind == "mob":
                entry.mob = MobState(entry.id)
            entries[info.stream_id] = entry
    head = j.head()
    if on_plan is not None:
        on_plan(head)
    damaged: list[Damaged] = []
    done = 0
    for item in read_everything(j):
        if isinstance(item, Damaged):
            damaged.append(item)
            continue
        done += 1
        if progress is not None and done % 4096 == 0:
            progress(4096)
        found = entries.get(item.stream_id)
        if found is None:
            continue  # a stream that is neither a session nor a mob, or one created since we looked
        found.last_activity_ms = item.timestamp_ms
        if found.kind == "session":
            _session_event(found, item)
        else:
            _mob_event(found, item)
    if progress is not None:
        progress(done % 4096)
    for entry in entries.values():
        if entry.kind == "mob" and entry.mob is not None:
            # No events left: destroying a mob deletes them all (the runtime reads it so too).
            entry.status = entry.mob.status.value if entry.events else "destroyed"
            entry.members = len(entry.mob.roster)
            lineage = entry.mob.forked_from
            if lineage is not None:
                entry.forked_from = f"{lineage['source_mob_id']}@{lineage['at_position']}"
    return list(entries.values()), damaged


def _session_event(entry: Entry, event: journal.RecordedEvent) -> None:
    status = SESSION_LIFECYCLE.get(event.type)
    if status is not None:
        entry.status = status
    if event.type == ev.SESSION_CREATED.name and isinstance(event.data, dict):
        binding = event.data.get("binding")
        if isinstance(binding, dict):
            entry.mob_id, entry.member_id, entry.profile = binding.get("mob_id"), binding.get("member_id"), binding.get("profile")
        lineage = event.data.get("forked_from")
        if isinstance(lineage, dict):
            entry.forked_from = f"{lineage.get('source_id')}@{lineage.get('seq')}"


def _mob_event(entry: Entry, event: journal.RecordedEvent) -> None:
    if entry.mob is None:  # an earlier event did not apply; the fold cannot go on
        return
    try:
        entry.mob = evolve_mob(entry.mob, event)
    except (MobError, KeyError, TypeError, ValueError, AttributeError):
        entry.status = "unreadable"  # `verify` says why; ls just lists
        entry.mob = None


def other_streams(j: journal.EventJournal) -> list[journal.StreamInfo]:
    """The streams that are neither sessions nor mobs (written by other code on the same journal)."""
    prefixes = (ev.SESSION_STREAM_PREFIX, ev.MOB_STREAM_PREFIX)
    return [info for info in j.streams() if not info.stream_id.startswith(prefixes)]
