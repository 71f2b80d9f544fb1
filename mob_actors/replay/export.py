"""One session's whole history as one self-describing file, and importing it into a journal.

The file is JSON lines: a header, then one event per line in seq order::

    {"format": "mob-replay-export", "version": 1, "session_id": "...", "stream": "session:...",
     "events": 3, "first_seq": 1, "last_seq": 3, "message_count": 4, "digest": "ab12...", ...}
    {"seq": 1, "position": 17, "timestamp_ms": 1764052305123, "type": "session_created",
     "version": 1, "data": {...}, "metadata": {}, "tags": []}
    ...

Event data goes through :mod:`mob_actors.replay.jsonval`, so bytes (``{"$bytes": base64}``) and
maps with non-string keys come back exactly. ``digest``/``message_count`` in the header are what
replaying the events gives (None if they do not replay), so a reader can check the file.

Importing a file into another journal is :mod:`mob_actors.replay.importing`.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

import journal

from ..core import events as ev
from ..core.errors import SessionNotFound, StoreError
from ..core.state import SessionState, evolve
from .errors import ExportRefused, UsageError
from .jsonval import from_json, to_json
from .source import Damaged, location, read_stream

FORMAT = "mob-replay-export"
VERSION = 1


@dataclass
class ExportFile:
    """A loaded export: its header and its events (``position``/``timestamp_ms`` as exported)."""

    path: str
    header: dict[str, Any]
    events: list[journal.RecordedEvent]

    @property
    def session_id(self) -> str:
        sid: str = self.header["session_id"]
        return sid


def replay_summary(
    session_id: str, events: list[journal.RecordedEvent], snapshots_at: frozenset[int] = frozenset(), snapshots: dict[int, Any] | None = None
) -> tuple[SessionState | None, str | None]:
    """The state the events replay to, or ``(None, reason)`` when they do not replay.

    The state after each seq in ``snapshots_at`` is put in ``snapshots`` (seq -> snapshot dict).
    """
    state: SessionState | None = None
    try:
        for event in events:
            state = evolve(state, event)
            if snapshots is not None and event.seq in snapshots_at:
                # evolve keeps changing the state's containers: keep a copy made now.
                snapshots[event.seq] = copy.deepcopy(state.to_snapshot())
    except (StoreError, KeyError, TypeError, ValueError) as e:
        return None, f"seq {event.seq}: {e}"
    if state is not None and state.id != session_id:
        return None, f"its session_created names session {state.id}, not {session_id}"
    return state, None


# -- writing ------------------------------------------------------------------------------------


def export_session(j: journal.EventJournal, session_id: str, out: str) -> dict[str, Any]:
    """Write ``session_id``'s history to the file ``out`` (``-``: stdout); return the header.

    Raises :class:`ExportRefused` if a record of the session cannot be read: a file with a hole
    in it could never be replayed or imported.
    """
    stream = ev.session_stream(session_id)
    events: list[journal.RecordedEvent] = []
    for item in read_stream(j, stream):
        if isinstance(item, Damaged):
            raise ExportRefused(f"cannot export session {session_id}: the record at {item.where()} is damaged ({item.reason})")
        events.append(item)
    if not events:
        raise SessionNotFound(session_id, f"no events in journal {j.path}")
    state, problem = replay_summary(session_id, events)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "session_id": session_id,
        "stream": stream,
        "events": len(events),
        "first_seq": events[0].seq,
        "last_seq": events[-1].seq,
        "message_count": len(state.messages) if state else None,
        "digest": state.digest.hexdigest() if state else None,
        "replay_problem": problem,
        "exported_at_ms": ev.now_ms(),
        "source": location(j.path),
    }
    lines = [json.dumps(header, ensure_ascii=False)]
    lines.extend(json.dumps(_event_line(e), ensure_ascii=False) for e in events)
    text = "\n".join(lines) + "\n"
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomically(out, text)
    return header


def _event_line(e: journal.RecordedEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "position": e.position,
        "timestamp_ms": e.timestamp_ms,
        "type": e.type,
        "version": e.version,
        "data": to_json(e.data),
        "metadata": to_json(e.metadata),
        "tags": list(e.tags),
    }


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all, readable by its owner only (0600).

    A half-written export must never look like a complete one: the text goes to a new temporary
    file in the target's directory, then is renamed over ``path``. That file is made by
    ``mkstemp`` (``O_CREAT | O_EXCL``, an unpredictable name, mode 0600), so nothing planted
    beside the target (a symlink at a guessable name) can redirect the write; conversations are
    sensitive, hence 0600 whatever the umask.
    """
    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# -- reading ------------------------------------------------------------------------------------


def is_export_file(path: str) -> bool:
    """Whether ``path`` is a file whose first line is an export header."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            first = json.loads(f.readline() or "null")
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(first, dict) and first.get("format") == FORMAT


def load_export(path: str) -> ExportFile:
    """Read and check an export file; :class:`UsageError` says what is wrong with it and where."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read the export file: {e}") from e
    if not lines:
        raise UsageError(f"{path}: empty file, not a {FORMAT} file")
    header = _parse(path, 1, lines[0])
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UsageError(f"{path}: line 1 is not a {FORMAT} header")
    if header.get("version") != VERSION:
        raise UsageError(f"{path}: export format version {header.get('version')!r}; this mob-replay reads version {VERSION}")
    session_id = header.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise UsageError(f"{path}: the header has no session_id")
    stream = ev.session_stream(session_id)
    events: list[journal.RecordedEvent] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = _parse(path, number, line)
        try:
            event = journal.RecordedEvent(
                stream, int(row["seq"]), int(row.get("position") or 0), str(row["type"]), from_json(row["data"]),
                from_json(row.get("metadata") or {}), tuple(row.get("tags") or ()), int(row.get("version", 1)),
                int(row.get("timestamp_ms") or 0),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise UsageError(f"{path}: line {number} is not an event: {e!r}") from e
        expected = events[-1].seq + 1 if events else header.get("first_seq", 1)
        if event.seq != expected:
            raise UsageError(f"{path}: line {number} has seq {event.seq}, expected {expected} (events must be in seq order without gaps)")
        events.append(event)
    if header.get("events") != len(events):
        raise UsageError(f"{path}: the header says {header.get('events')} events but the file has {len(events)} (truncated?)")
    return ExportFile(path, header, events)


def _parse(path: str, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as e:
        raise UsageError(f"{path}: line {number} is not JSON: {e}") from e
