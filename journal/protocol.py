"""The journal's contract: what every backend offers and everything above it may call.

:class:`EventJournal` is what ``journal.open`` returns, whichever backend the location names: a
directory gives the LMDB :class:`journal.Journal`, a ``postgresql://`` URL the PostgreSQL journal.
Code above the journal (``mob_actors``, ``mob-replay``) annotates with these types and never
with a backend's class. Both backends give the same guarantees:

* per-stream ``seq`` from 1 without gaps, one global ``position`` gap-free and in commit order;
* atomic writes with ``expected_seq``, acknowledged only once durable, and group commit;
* ``delete_to`` never lowers a stream's highest seq; snapshots with Akka-style selection;
* upcasters on read; ``verify()`` naming every damaged record;
* subscriptions that catch up, then follow commits (also another process's), never missing one;
* ``readonly=True`` openers that refuse every write with :class:`journal.ReadOnlyJournal`.

Every failure is a :class:`journal.JournalError` (``journal/errors.py``).

**Ownership locks** (``try_lock``/``unlock``/``lock_owner``) are the primitive for "one owner of a
thing at a time across processes": a lock is held by this opener until ``unlock``, ``close`` or
the end of the process. On PostgreSQL it is an advisory lock on the connection the opener writes
with, so losing that connection loses the lock and the ability to write together (fence writes
with ``expected_seq`` as well). On LMDB only one process can write a journal, so every lock is
held by that process: ``try_lock`` succeeds unless another thread of it holds the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .records import AppendResult, AtomicWrite, Event, ExpectedSeq, RecordedEvent, Rejected, Snapshot, StoredSize, StreamInfo, VerifyReport

Upcaster = Callable[[Any], Any]


class LockOwner(NamedTuple):
    """Who holds an ownership lock: the host name and process id of the opener holding it."""

    host: str
    pid: int

    def __str__(self) -> str:
        return f"{self.host} pid {self.pid}"


@runtime_checkable
class JournalSubscription(Protocol):
    """An iterator over a journal's events: first those after the start, then each new commit.

    Iteration blocks until an event arrives or :meth:`close` is called (from any thread);
    ``position`` is where a later subscription resumes without losing anything.
    """

    @property
    def position(self) -> int: ...

    def __iter__(self) -> JournalSubscription: ...

    def __next__(self) -> RecordedEvent: ...

    def close(self) -> None: ...

    def __enter__(self) -> JournalSubscription: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class EventJournal(Protocol):
    """An open journal of either backend. Thread-safe; close it (or use ``with``) when done.

    ``path`` names where it lives (a directory, or a URL without its password) for messages.
    """

    @property
    def path(self) -> str: ...

    @property
    def readonly(self) -> bool: ...

    @property
    def durability(self) -> str: ...

    @property
    def closed(self) -> bool: ...

    @property
    def commits(self) -> int:
        """Write transactions committed by this opener (appends per commit shows group commit)."""
        ...

    # -- writing: each returns only once durable; a readonly opener raises ReadOnlyJournal ---

    def append(self, stream_id: str, events: Iterable[Event], *, expected_seq: ExpectedSeq = ...) -> AppendResult:
        """Append ``events`` to a stream atomically; WrongExpectedVersion/EventRejected write nothing."""
        ...

    def append_batch(self, writes: Iterable[AtomicWrite]) -> list[AppendResult | Rejected]:
        """Several atomic writes in one commit; a rejected write does not stop the others."""
        ...

    def delete_to(self, stream_id: str, seq: int) -> None:
        """Delete events ``1..seq`` of a stream; its highest seq is never lowered."""
        ...

    # -- reading -----------------------------------------------------------------------------

    def highest_seq(self, stream_id: str) -> int:
        """The stream's highest seq ever written (0 if unknown); deletions keep it."""
        ...

    def head(self) -> int:
        """The last global position (0 when empty)."""
        ...

    def read(self, stream_id: str, from_seq: int = 1, to_seq: int | None = None, max_count: int | None = None) -> Iterator[RecordedEvent]:
        """Events of one stream with ``from_seq <= seq <= to_seq``, at most ``max_count``, in seq order."""
        ...

    def read_all(self, after: int = 0, *, limit: int | None = None, types: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> Iterator[RecordedEvent]:
        """Every stream's events in position order after ``after``, optionally filtered."""
        ...

    def streams(self, prefix: str = "") -> Iterator[StreamInfo]:
        """Every stream whose id starts with ``prefix``, in id order."""
        ...

    def subscribe(self, after: int = 0, *, types: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> JournalSubscription:
        """What exists after ``after``, then each new event as it is committed, until closed."""
        ...

    def register_upcaster(self, type: str, from_version: int, fn: Upcaster) -> None:
        """Turn ``type`` events at ``from_version`` into ``from_version + 1`` on every read."""
        ...

    # -- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, stream_id: str, seq: int, state: Any, metadata: dict[str, Any] | None = None) -> None:
        """Save ``state`` as the stream's state at ``seq`` (replacing one at the same seq)."""
        ...

    def load_snapshot(self, stream_id: str, *, max_seq: int | None = None, max_timestamp_ms: int | None = None) -> Snapshot | None:
        """The newest snapshot with ``seq <= max_seq`` and ``timestamp_ms <= max_timestamp_ms``."""
        ...

    def load_snapshots(self, stream_id: str, *, min_seq: int = 0, max_seq: int | None = None) -> list[Snapshot]:
        """Every snapshot of the stream with ``min_seq <= seq <= max_seq``, oldest first, read at once."""
        ...

    def delete_snapshots(self, stream_id: str, *, max_seq: int, max_timestamp_ms: int | None = None, min_seq: int = 0) -> int:
        """Delete the snapshots in ``min_seq..max_seq`` not newer than ``max_timestamp_ms``; return how many."""
        ...

    def stored_size(self, stream_id: str) -> StoredSize:
        """The bytes a stream's records take (its events and its snapshots), before the backend's
        own overhead (pages, tuple headers, indexes beyond the stream's keys)."""
        ...

    # -- checking, ownership, lifecycle --------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Scan everything; report every undecodable record, seq gap and index mismatch."""
        ...

    def try_lock(self, key: str) -> bool:
        """Take the ownership lock ``key`` for this opener if nobody else holds it; True if held now."""
        ...

    def unlock(self, key: str) -> bool:
        """Give up the ownership lock ``key``; True if this opener held it."""
        ...

    def holds_lock(self, key: str) -> bool:
        """Whether this opener holds ``key`` now: False once it gave it up or lost it with its
        connection (PostgreSQL notices a lost connection within about a second while idle)."""
        ...

    def lock_owner(self, key: str) -> LockOwner | None:
        """Who holds the ownership lock ``key`` (this opener included), or None if nobody does."""
        ...

    def close(self) -> None:
        """Commit what is queued, release every lock and connection. Idempotent."""
        ...

    def __enter__(self) -> EventJournal: ...

    def __exit__(self, *exc: object) -> None: ...
