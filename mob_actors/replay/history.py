"""Where a session's history comes from: a journal directory or an export file.

Commands that look at one session (show, state, diff, html, verify SESSION) take either, so an
exported session can be examined offline exactly like a live journal. Both give the events in
seq order and the session's state after any seq, through the one ``evolve``:

* :class:`JournalHistory` rebuilds with :func:`mob_actors.recovery.recover` (newest snapshot at
  or before the seq, then the later events);
* :class:`ExportHistory` folds the file's events from the start (a file has no snapshots).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import journal

from ..core import events as ev
from ..core.errors import SessionNotFound, StoreError
from ..core.recovery import recover
from ..core.state import SessionState, evolve
from .errors import UsageError
from .export import ExportFile, is_export_file, load_export
from .source import Item, is_url, open_journal, read_stream, resolve_session, session_ids


class History:
    """The sessions of one source. Use :func:`open_history`; close it when done."""

    path: str

    def session_ids(self) -> list[str]:
        """Every session the source holds."""
        raise NotImplementedError

    def resolve(self, text: str | None) -> str:
        """The session id ``text`` names (``None``: the only session of an export file)."""
        raise NotImplementedError

    def events(self, session_id: str, from_seq: int = 1, to_seq: int | None = None) -> Iterator[Item]:
        """The session's events from ``from_seq`` to ``to_seq``, damaged records as :class:`Damaged` items."""
        raise NotImplementedError

    def highest_seq(self, session_id: str) -> int:
        """The session's last seq (0: no events)."""
        raise NotImplementedError

    def state(self, session_id: str, to_seq: int | None = None) -> SessionState:
        """The state after event ``to_seq`` (default: the last); raises StoreError/ReplayMismatch."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the source (the journal's read-only open); nothing can follow."""

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JournalHistory(History):
    """The sessions of a journal directory, opened read-only."""

    def __init__(self, j: journal.EventJournal) -> None:
        self.journal = j
        self.path = j.path

    def session_ids(self) -> list[str]:
        return session_ids(self.journal)

    def resolve(self, text: str | None) -> str:
        if text is None:
            raise UsageError(f"{self.path} is a journal: name the session (see `mob-replay ls {self.path}`)")
        return resolve_session(self.journal, text)

    def events(self, session_id: str, from_seq: int = 1, to_seq: int | None = None) -> Iterator[Item]:
        return read_stream(self.journal, ev.session_stream(session_id), from_seq, to_seq)

    def highest_seq(self, session_id: str) -> int:
        return self.journal.highest_seq(ev.session_stream(session_id))

    def state(self, session_id: str, to_seq: int | None = None) -> SessionState:
        state = recover(self.journal, session_id, to_seq=to_seq)
        if state is None:
            raise SessionNotFound(session_id, f"no events in journal {self.path}")
        return state

    def close(self) -> None:
        self.journal.close()


class ExportHistory(History):
    """The one session of an export file, loaded whole."""

    def __init__(self, exp: ExportFile) -> None:
        self.export = exp
        self.path = exp.path

    def session_ids(self) -> list[str]:
        return [self.export.session_id]

    def resolve(self, text: str | None) -> str:
        sid = self.export.session_id
        if text is None or sid == text.removeprefix(ev.SESSION_STREAM_PREFIX) or sid.startswith(text):
            return sid
        raise SessionNotFound(text, f"the export file {self.path} holds session {sid} only")

    def events(self, session_id: str, from_seq: int = 1, to_seq: int | None = None) -> Iterator[Item]:
        return iter(self._events(from_seq, to_seq))

    def _events(self, from_seq: int, to_seq: int | None) -> list[journal.RecordedEvent]:
        last = to_seq if to_seq is not None else float("inf")
        return [e for e in self.export.events if from_seq <= e.seq <= last]

    def highest_seq(self, session_id: str) -> int:
        return self.export.events[-1].seq if self.export.events else 0

    def state(self, session_id: str, to_seq: int | None = None) -> SessionState:
        state: SessionState | None = None
        try:
            for event in self._events(1, to_seq):
                state = evolve(state, event)
        except (KeyError, TypeError, ValueError) as e:
            # evolve expects the fields events.py defines; a hand-edited file may lack some.
            raise StoreError(f"session {session_id}: event {event.seq} ({event.type}) is malformed: {e!r}") from e
        if state is None:
            raise SessionNotFound(session_id, f"no events in {self.path}")
        return state


def open_history(path: str) -> History:
    """A journal directory or URL, or an export file, or :class:`UsageError`."""
    if os.path.isdir(path) or is_url(path):
        return JournalHistory(open_journal(path))
    if os.path.isfile(path):
        if not is_export_file(path):
            raise UsageError(f"{path}: neither a journal directory nor a mob-replay export file")
        return ExportHistory(load_export(path))
    raise UsageError(f"{path}: no such journal directory or export file")
