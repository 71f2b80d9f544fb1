"""Where session actors keep their events: the journal (persistent) or nowhere (ephemeral).

Actors never touch LMDB: they go through a store, and the persistent store only through the
public journal API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import journal

from ..core import events as ev
from ..core.errors import StoreError
from ..core.recovery import recover
from ..core.state import SessionState


class SessionStore(Protocol):
    durable: bool

    def append(self, session_id: str, events: Sequence[journal.Event], expected_seq: int) -> None: ...

    def save_snapshot(self, state: SessionState) -> None: ...

    def recover(self, session_id: str) -> SessionState | None: ...

    def session_ids(self) -> Iterator[str]: ...

    def input_index(self) -> dict[str, str]: ...


class JournalStore:
    """Session events in a journal, one stream per session; appends return once fsynced."""

    durable = True

    def __init__(self, j: journal.Journal) -> None:
        self.journal = j

    def append(self, session_id: str, events: Sequence[journal.Event], expected_seq: int) -> None:
        try:
            # expected_seq makes a second writer of the same session fail instead of forking it.
            self.journal.append(ev.session_stream(session_id), events, expected_seq=expected_seq)
        except journal.JournalError as e:
            raise StoreError(f"session {session_id}: the journal refused the write, nothing was stored: {e}") from e

    def save_snapshot(self, state: SessionState) -> None:
        try:
            self.journal.save_snapshot(ev.session_stream(state.id), state.seq, state.to_snapshot())
        except journal.JournalError as e:
            raise StoreError(f"session {state.id}: snapshot at seq {state.seq} failed: {e}") from e

    def recover(self, session_id: str) -> SessionState | None:
        return recover(self.journal, session_id)

    def session_ids(self) -> Iterator[str]:
        prefix = ev.SESSION_STREAM_PREFIX
        for info in self.journal.streams(prefix):
            yield info.stream_id[len(prefix):]

    def input_index(self) -> dict[str, str]:
        """input_id -> session_id of every input ever accepted (one scan of the journal)."""
        prefix = len(ev.SESSION_STREAM_PREFIX)
        return {e.data["input_id"]: e.stream_id[prefix:] for e in self.journal.read_all(types=[ev.INPUT_ACCEPTED.name])}


class MemoryStore:
    """The ephemeral service's store: events are applied but not kept anywhere."""

    durable = False

    def append(self, session_id: str, events: Sequence[journal.Event], expected_seq: int) -> None:
        pass

    def save_snapshot(self, state: SessionState) -> None:
        pass

    def recover(self, session_id: str) -> SessionState | None:
        return None

    def session_ids(self) -> Iterator[str]:
        return iter(())

    def input_index(self) -> dict[str, str]:
        return {}
