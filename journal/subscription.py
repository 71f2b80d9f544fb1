"""Live subscriptions: catch up from a position, then follow new commits."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Protocol

from .errors import JournalClosed
from .records import RecordedEvent

Scan = Callable[[int, int, frozenset[str] | None, frozenset[str] | None], tuple[list[RecordedEvent], int | None]]
"""``scan(after, count, types, tags)``: up to ``count`` matching events after position ``after``
and the last position scanned (None at the end of the log)."""

# Commits by another process are not signalled on LMDB; poll for them this often.
POLL_SECONDS = 0.05


class CommitSignal(Protocol):
    """What a subscription waits on: a count of commits seen, notified under its condition.

    The LMDB ``Storage`` counts its writer's commits; the PostgreSQL journal also counts
    notifications of other processes' commits."""

    committed: threading.Condition
    commit_count: int


_BATCH = 256


class Subscription:
    """An iterator over a journal's events that blocks for new ones until :meth:`close`.

    In-process commits wake it at once; commits of another process are seen within
    ``POLL_SECONDS``. ``close()`` may be called from any thread; iteration then stops.
    """

    def __init__(
        self,
        scan: Scan,
        is_closed: Callable[[], bool],
        storage: CommitSignal,
        after: int,
        types: frozenset[str] | None,
        tags: frozenset[str] | None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        # What it needs of its journal, and nothing more: a way to read ahead and to learn
        # that the journal was closed. Commits are signalled through the shared storage.
        self._scan = scan
        self._is_closed = is_closed
        self._storage = storage
        self._poll_seconds = poll_seconds
        self._position = after
        self._types = types
        self._tags = tags
        self._buffer: collections.deque[RecordedEvent] = collections.deque()
        self._closed = False

    @property
    def position(self) -> int:
        """Resume a later subscription from here: nothing after it has been handed out yet."""
        if self._buffer:
            # Events already read ahead but not yet returned by next() must not be skipped.
            return self._buffer[0].position - 1
        return self._position

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> RecordedEvent:
        while not self._buffer:
            if self._closed or self._is_closed():
                raise StopIteration
            with self._storage.committed:
                seen = self._storage.commit_count
            try:
                matched, last = self._scan(self._position, _BATCH, self._types, self._tags)
            except JournalClosed:
                if self._is_closed():  # closed between the check above and the scan
                    raise StopIteration from None
                raise
            if last is not None:
                self._position = last
                self._buffer.extend(matched)
                continue
            with self._storage.committed:
                if self._storage.commit_count == seen and not self._closed:
                    self._storage.committed.wait(self._poll_seconds)
        return self._buffer.popleft()

    def close(self) -> None:
        """End the subscription; a thread blocked in ``next()`` returns promptly."""
        self._closed = True
        with self._storage.committed:
            self._storage.committed.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
