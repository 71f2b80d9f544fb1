"""Where a session service keeps its sessions: the journal (persistent) or memory only (ephemeral).

The store is the one place where the two services differ. :class:`JournalStore` appends every
event to a journal stream and rebuilds sessions from it; :class:`MemoryStore` keeps nothing
durable, so a session lives only as long as its last published state. Everything else (actors,
residency, the catalogue, the facade) is shared code that asks the store.

Actors never touch LMDB: they go through a store, and the journal store only through the public
journal API.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import journal

from ..core import events as ev
from ..core import snapshots
from ..core.errors import PersistenceDisabled, StoreError
from ..core.recovery import recover
from ..core.state import SessionState

log = logging.getLogger(__name__)


class SessionStore(Protocol):
    """What a session service needs of the place its sessions are kept."""

    #: Sessions survive the process (``supports_persistent_sessions``); receipts count run sequences.
    durable: bool
    #: Snapshot a session after this many events since its last snapshot; None: never.
    checkpoint_every: int | None

    def append(self, session_id: str, events: Sequence[journal.Event], expected_seq: int) -> None:
        """Store ``events`` after seq ``expected_seq``; durable when it returns (raises ``StoreError``)."""
        ...

    def save_snapshot(self, state: SessionState) -> None:
        """Store a snapshot of ``state`` at its seq (raises ``StoreError``)."""
        ...

    def recover(self, session_id: str) -> SessionState | None:
        """The session's durable state (newest snapshot plus later events); None if none is kept."""
        ...

    def rebuild(self, session_id: str, last: SessionState | None) -> SessionState | None:
        """The state a new actor of a live session starts from; ``last`` is the last published one."""
        ...

    def state_at(self, session_id: str, seq: int) -> SessionState | None:
        """The session as it was after event ``seq`` (for rewinds and forks); ``PersistenceDisabled``
        when the store keeps no history."""
        ...

    def stored_state(self, session_id: str, *, for_history: bool) -> SessionState | None:
        """The kept state of a session that is not live (for reads); None if nothing is kept.

        Raises ``PersistenceDisabled`` when only a summary is kept and ``for_history`` asks for more.
        """
        ...

    def retire(self, state: SessionState) -> None:
        """Told of a session's final state once it is archived."""
        ...

    def committed_turn(self, session_id: str, seq: int) -> tuple[dict[str, Any], SessionState] | None:
        """The ``turn_applied`` data at ``seq`` and the session as it left it; None if not kept."""
        ...

    def session_ids(self) -> Iterator[str]:
        """Every session the store has events of."""
        ...

    def input_index(self) -> dict[str, str]:
        """input_id -> session_id of every input the store has accepted."""
        ...

    def close(self) -> None:
        """Release what the store owns (the journal it opened); nothing is lost."""
        ...


def check_checkpoint_every(checkpoint_every: int | None) -> int | None:
    """``checkpoint_every`` if it is None or at least 1; else ``ValueError``."""
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError("checkpoint_every must be >= 1, or None for no checkpoints")
    return checkpoint_every


def check_keep_snapshots(keep_snapshots: int | None) -> int | None:
    """``keep_snapshots`` if it is None or at least 1; else ``ValueError``."""
    if keep_snapshots is not None and (not isinstance(keep_snapshots, int) or isinstance(keep_snapshots, bool) or keep_snapshots < 1):
        raise ValueError(f"keep_snapshots must be an int >= 1, or None to keep every snapshot; got {keep_snapshots!r}")
    return keep_snapshots


class JournalStore:
    """Session events in a journal, one stream per session; appends return once fsynced."""

    durable = True

    def __init__(
        self, j: journal.EventJournal, *, checkpoint_every: int | None = 50, keep_snapshots: int | None = 2, owns_journal: bool = False,
    ) -> None:
        self.journal = j
        self.checkpoint_every = check_checkpoint_every(checkpoint_every)
        self.keep_snapshots = check_keep_snapshots(keep_snapshots)
        self._owns_journal = owns_journal

    def append(self, session_id: str, events: Sequence[journal.Event], expected_seq: int) -> None:
        """Append to ``session:<id>``; ``expected_seq`` makes a second writer fail instead of forking it."""
        try:
            self.journal.append(ev.session_stream(session_id), events, expected_seq=expected_seq)
        except journal.WrongExpectedVersion as e:
            # Another writer (another host on a shared journal) wrote the session since this copy
            # was loaded: the caller's service drops the copy, the next call rebuilds it.
            raise StoreError(
                f"session {session_id}: someone else wrote it since this host loaded it (its highest seq is {e.actual}, "
                f"this copy was at {expected_seq}); nothing was stored, and this host's copy is dropped: the next call "
                "works on the session as stored", session_id=session_id,
            ) from e
        except journal.JournalError as e:
            raise StoreError(f"session {session_id}: the journal refused the write, nothing was stored: {e}", session_id=session_id) from e

    def save_snapshot(self, state: SessionState) -> None:
        """Snapshot ``state`` at its seq (a head plus the messages not in a part yet, see
        :mod:`mob_actors.core.snapshots`), then delete snapshots beyond the ``keep_snapshots`` newest."""
        try:
            snapshots.save(self.journal, ev.session_stream(state.id), state, self.keep_snapshots)
        except journal.JournalError as e:
            raise StoreError(f"session {state.id}: snapshot at seq {state.seq} failed: {e}", session_id=state.id) from e

    def recover(self, session_id: str) -> SessionState | None:
        """Newest snapshot plus the later events; an unreadable snapshot is logged and skipped."""
        return recover(self.journal, session_id, on_bad_snapshot=_log_bad_snapshot)

    def rebuild(self, session_id: str, last: SessionState | None) -> SessionState | None:
        """From the journal, never from ``last``: after a crash only the durable state is trusted."""
        return self.recover(session_id)

    def state_at(self, session_id: str, seq: int) -> SessionState | None:
        """Replayed from the newest snapshot at or before ``seq``, every digest on the way checked."""
        return recover(self.journal, session_id, to_seq=seq, on_bad_snapshot=_log_bad_snapshot)

    def stored_state(self, session_id: str, *, for_history: bool) -> SessionState | None:
        """The durable state, history included."""
        return self.recover(session_id)

    def retire(self, state: SessionState) -> None:
        """Nothing to do: the ``archived`` event is already in the journal."""

    def committed_turn(self, session_id: str, seq: int) -> tuple[dict[str, Any], SessionState] | None:
        """Read back from the journal: the event, and the session replayed up to it."""
        try:
            events = list(self.journal.read(ev.session_stream(session_id), from_seq=seq, to_seq=seq))
        except journal.JournalError as e:
            raise StoreError(f"session {session_id}: cannot read event {seq}: {e}", session_id=session_id) from e
        state = recover(self.journal, session_id, to_seq=seq, on_bad_snapshot=_log_bad_snapshot)
        if not events or events[0].type != ev.TURN_APPLIED.name or state is None:
            return None
        return dict(events[0].data), state

    def session_ids(self) -> Iterator[str]:
        """The ids of every ``session:`` stream."""
        prefix = ev.SESSION_STREAM_PREFIX
        for info in self.journal.streams(prefix):
            yield info.stream_id[len(prefix):]

    def input_index(self) -> dict[str, str]:
        """input_id -> session_id of every input ever accepted (one scan of the journal)."""
        prefix = len(ev.SESSION_STREAM_PREFIX)
        index: dict[str, str] = {}
        for e in self.journal.read_all(types=[ev.INPUT_ACCEPTED.name, ev.TOOL_RESULT_ACCEPTED.name]):
            input_id = e.data.get("input_id") if isinstance(e.data, dict) else None
            if isinstance(input_id, str):
                index[input_id] = e.stream_id[prefix:]
            else:  # damaged: its session reports it when read; the other sessions' inputs stay usable
                log.warning("%s seq %d: an input event without an input_id; ignored in the input index", e.stream_id, e.seq)
        return index

    def close(self) -> None:
        """Close the journal if the store opened it."""
        if self._owns_journal:
            self.journal.close()


def _log_bad_snapshot(stream: str, error: Exception) -> None:
    log.warning("ignoring an unreadable snapshot of %s, replaying from the start: %s", stream, error)


class MemoryStore:
    """The ephemeral store: events are applied but not kept; archived sessions stay readable (not
    their history) until ``max_archived`` newer ones push them out."""

    durable = False
    checkpoint_every: int | None = None  # a snapshot would go nowhere

    def __init__(self, *, max_archived: int = 1000) -> None:
        self._archived: collections.OrderedDict[str, SessionState] = collections.OrderedDict()
        self._max_archived = max_archived

    def append(self, session_id: str, events: Sequence[journal.Event], expected_seq: int) -> None:
        """Nothing is kept: the actor applies the events to its state and that is all."""

    def save_snapshot(self, state: SessionState) -> None:
        """Never called (no checkpoints); a snapshot would go nowhere."""

    def recover(self, session_id: str) -> SessionState | None:
        """None: nothing is durable."""
        return None

    def rebuild(self, session_id: str, last: SessionState | None) -> SessionState | None:
        """``last``, the only copy there is (None once it is gone)."""
        return last

    def state_at(self, session_id: str, seq: int) -> SessionState | None:
        """Refused: the ephemeral service keeps no history to go back to."""
        raise PersistenceDisabled(
            f"session {session_id}: the ephemeral service keeps no history, so it cannot go back to event {seq}; "
            "use PersistentSessionService to rewind or fork at an earlier point",
            session_id=session_id,
        )

    def stored_state(self, session_id: str, *, for_history: bool) -> SessionState | None:
        """The final state of a recently archived session; its history is not offered."""
        archived = self._archived.get(session_id)
        if archived is not None and for_history:
            raise PersistenceDisabled(
                f"session {session_id} is archived and the ephemeral service keeps no history; "
                "use PersistentSessionService to read archived sessions",
                session_id=session_id,
            )
        return archived

    def committed_turn(self, session_id: str, seq: int) -> tuple[dict[str, Any], SessionState] | None:
        """None: past turns are not kept."""
        return None

    def retire(self, state: SessionState) -> None:
        """Keep the archived state for reads, dropping the oldest beyond ``max_archived``."""
        self._archived[state.id] = state
        while len(self._archived) > self._max_archived:
            self._archived.popitem(last=False)

    def session_ids(self) -> Iterator[str]:
        """None: the catalogue knows the live sessions from their views."""
        return iter(())

    def input_index(self) -> dict[str, str]:
        """Empty: the ledger learns inputs as they are accepted."""
        return {}

    def close(self) -> None:
        """Nothing to release."""
