"""``import``: an export file's session appended to another journal, as it was, and the import noted.

The events go to ``session:<id>`` in one atomic write that only succeeds if that stream does not
exist yet (``expected_seq=journal.NO_STREAM``), each with the time it had in the source journal;
the target assigns new positions. Then the snapshots its ``checkpointed`` events name are saved,
rebuilt by replay, and the import itself is recorded as one ``session_imported`` event in the
stream :data:`IMPORTS` (which file, from which journal, when, how many events), so the session's
own events stay exactly what the source had.

What the services would refuse is refused here too, before anything is written: a session id
that is not a UUID (no service call could address it), and a binding to a mob member unless the
caller asks for it (``with_binding``) and the target's mob, if it has one, lists the session as
that member. Without ``with_binding`` the binding is left out: the session arrives as a plain
session, its conversation unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import journal

from ..core import events as ev
from ..core.errors import MobError
from ..core.ids import check_id
from ..core.mob import MobState, evolve_mob
from .errors import ExportRefused
from .export import ExportFile, replay_summary
from .source import Damaged, read_stream

IMPORTS = "mob-replay:imports"
SESSION_IMPORTED = "session_imported"


@dataclass
class Imported:
    """What ``import`` wrote: the session's append, and the binding it left out (if any)."""

    result: journal.AppendResult
    dropped_binding: dict[str, Any] | None = None
    record: dict[str, Any] = field(default_factory=dict)


def import_export(exp: ExportFile, j: journal.EventJournal, *, with_binding: bool = False) -> Imported:
    """Append the export's session to ``j`` as described above.

    Refuses (:class:`ExportRefused`) when the id is not a UUID, the events do not start at seq 1
    or do not replay, the binding is not wanted or not backed by the target's mob, or the session
    already exists in ``j``; nothing is written then.
    """
    session_id = exp.session_id
    try:
        canonical = check_id(session_id)
    except ValueError as e:
        raise ExportRefused(f"{exp.path}: {e}; nothing was imported") from None
    if canonical != session_id:
        raise ExportRefused(f"{exp.path}: session id {session_id!r} is not written as the services write it "
                            f"({canonical}); nothing was imported")
    if not exp.events or exp.events[0].seq != 1:
        raise ExportRefused(f"{exp.path}: the export does not start at seq 1, so it cannot be a whole session")
    events = list(exp.events)
    binding = _binding(events[0])
    dropped = None
    if binding is not None:
        if with_binding:
            _check_roster(j, session_id, binding, exp.path)
        else:
            dropped = binding
            data = {**events[0].data, "binding": None}
            events[0] = events[0]._replace(data=data)
    # The snapshots the checkpointed events name are rebuilt too, so recovery in the target
    # journal is as quick as in the source and `verify` finds what the checkpoints promise.
    named = frozenset(e.data["snapshot_seq"] for e in events if e.type == ev.CHECKPOINTED.name and isinstance(e.data, dict))
    snapshots: dict[int, Any] = {}
    _, problem = replay_summary(session_id, events, named, snapshots)
    if problem is not None:
        raise ExportRefused(f"{exp.path}: the exported events do not replay ({problem}); nothing was imported")
    stream = ev.session_stream(session_id)
    existing = j.highest_seq(stream)
    if existing:
        raise ExportRefused(f"session {session_id} already exists in {j.path} ({existing} events); nothing was imported")
    # Timestamps as the source journal recorded them (0: a file written without them, take the commit's).
    copies = [journal.Event(e.type, e.data, e.metadata or None, e.tags, e.version, e.timestamp_ms or None) for e in events]
    try:
        # NO_STREAM: if someone creates the session between our check and this write, we lose.
        result = j.append(stream, copies, expected_seq=journal.NO_STREAM)
    except journal.WrongExpectedVersion as e:
        raise ExportRefused(f"session {session_id} already exists in {j.path}; nothing was imported") from e
    except journal.EventRejected as e:
        raise ExportRefused(f"{exp.path}: the journal refused the events: {e}") from e
    for seq, snapshot in sorted(snapshots.items()):
        j.save_snapshot(stream, seq, snapshot)
    header = exp.header
    record = {
        "session_id": session_id,
        "file": os.path.abspath(exp.path),
        "source": header.get("source"),
        "exported_at_ms": header.get("exported_at_ms"),
        "events": len(copies),
        "first_position": result.position - len(copies) + 1,
        "last_position": result.position,
        "digest": header.get("digest"),
        "binding_dropped": dropped,
    }
    j.append(IMPORTS, [journal.Event(SESSION_IMPORTED, record)])
    return Imported(result, dropped, record)


def _binding(created: journal.RecordedEvent) -> dict[str, Any] | None:
    data = created.data
    if created.type != ev.SESSION_CREATED.name or not isinstance(data, dict):
        return None  # replay_summary says what is wrong with it
    binding = data.get("binding")
    return binding if isinstance(binding, dict) else None


def _check_roster(j: journal.EventJournal, session_id: str, binding: dict[str, Any], path: str) -> None:
    """A binding is imported only if the target's mob (when it has that mob) lists this session."""
    mob_id, member_id = binding.get("mob_id"), binding.get("member_id")
    if not isinstance(mob_id, str) or not mob_id:
        raise ExportRefused(f"{path}: the session's binding names no mob ({binding!r}); nothing was imported")
    stream = ev.mob_stream(mob_id)
    if not j.highest_seq(stream):
        return  # no such mob here: the binding claims nobody's roster
    state = MobState(mob_id)
    for item in read_stream(j, stream):
        if isinstance(item, Damaged):
            raise ExportRefused(f"{path}: mob {mob_id} in {j.path} has a damaged record ({item.reason}); nothing was imported")
        try:
            state = evolve_mob(state, item)
        except (MobError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise ExportRefused(f"{path}: mob {mob_id} in {j.path} does not replay ({e!r}); nothing was imported") from None
    entry = state.roster.get(member_id) if isinstance(member_id, str) else None
    if entry is None or entry.session_id != session_id:
        raise ExportRefused(f"{path}: the session is bound to member {member_id} of mob {mob_id}, but that mob in {j.path} "
                            "does not list it as that member; import it without --with-binding; nothing was imported")
