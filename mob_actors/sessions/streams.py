"""Live session event streams: a per-session hub fanning envelopes out to subscribers."""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any

from ..core.events import now_ms
from ..core.ids import new_id
from ..core.model import EventEnvelope

CAPACITY = 256  # a subscriber further behind than this skips ahead (one stream_truncated marks it)


class EventStream:
    """An iterator and async iterator over a live session's events; ends when the session stops being live."""

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._cond = threading.Condition()
        self._items: collections.deque[EventEnvelope] = collections.deque()
        self._skipped = 0
        self._ended = False

    def _put(self, envelope: EventEnvelope) -> None:
        with self._cond:
            if len(self._items) >= CAPACITY:
                self._items.popleft()
                self._skipped += 1
            self._items.append(envelope)
            self._cond.notify_all()

    def _end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def close(self) -> None:
        """Stop receiving; iteration ends after what is buffered."""
        self._hub._unsubscribe(self)
        self._end()

    def next(self, timeout: float | None = None) -> EventEnvelope:
        """The next envelope; ``TimeoutError`` after ``timeout`` seconds, ``StopIteration`` at the end."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._ended, timeout):
                raise TimeoutError(f"no session event within {timeout} s")
            if self._skipped:
                skipped, self._skipped = self._skipped, 0
                # Stamped with the seq of the last event skipped, so this subscriber's seqs never go back.
                return self._hub.marker("stream_truncated", {"skipped": skipped}, seq=self._items[0].seq - 1)
            if self._items:
                return self._items.popleft()
            raise StopIteration

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> EventEnvelope:
        return self.next()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> EventEnvelope:
        # Block in a worker thread, never on the event loop. StopIteration cannot cross into an
        # asyncio future (it would hang the awaiting task), so the end comes back as None.
        envelope = await asyncio.to_thread(self._next_or_none)
        if envelope is None:
            raise StopAsyncIteration
        return envelope

    def _next_or_none(self) -> EventEnvelope | None:
        try:
            return self.next()
        except StopIteration:
            return None


class EventHub:
    """Stamps a session's events (seq from 1, never reset) and hands them to every subscriber."""

    def __init__(self, session_id: str, mob_id: str | None = None) -> None:
        self.source_id = f"session:{session_id}"
        self.mob_id = mob_id
        self._lock = threading.Lock()
        self._seq = 0
        self._subscribers: list[EventStream] = []
        self._closed = False

    def marker(self, type: str, data: dict[str, Any], seq: int | None = None) -> EventEnvelope:
        """An envelope for one subscriber only (it repeats a seq, by default the last, rather than taking one)."""
        if seq is None:
            with self._lock:
                seq = self._seq
        return EventEnvelope(new_id(), self.source_id, seq, now_ms(), type, data, self.mob_id)

    def subscribe(self) -> EventStream:
        """A new stream of this session's events from now on (already ended if the session is no longer live)."""
        stream = EventStream(self)
        with self._lock:
            if self._closed:
                stream._end()
            else:
                self._subscribers.append(stream)
        return stream

    def publish(self, type: str, data: dict[str, Any]) -> EventEnvelope:
        """Stamp the next seq on an event and hand it to every subscriber; returns the envelope."""
        with self._lock:  # stamp and deliver under one lock so every subscriber sees seq order
            self._seq += 1
            envelope = EventEnvelope(new_id(), self.source_id, self._seq, now_ms(), type, data, self.mob_id)
            for s in self._subscribers:
                s._put(envelope)
        return envelope

    def publish_quiet(self, type: str, data: dict[str, Any]) -> None:
        """:meth:`publish` for a caller that does not need the envelope back.

        With no subscriber only the seq moves (so later subscribers see the same numbering): a
        turn emits at least two events and most sessions have nobody listening, so building the
        envelopes (a new id, a clock read, a dataclass each) was pure overhead on every turn.
        """
        with self._lock:
            self._seq += 1
            if not self._subscribers:
                return
            envelope = EventEnvelope(new_id(), self.source_id, self._seq, now_ms(), type, data, self.mob_id)
            for s in self._subscribers:
                s._put(envelope)

    def close(self) -> None:
        """End every subscriber's stream (the session stopped being live); later subscribers get an ended one."""
        with self._lock:
            self._closed = True
            subscribers, self._subscribers = self._subscribers, []
        for s in subscribers:
            s._end()

    def _unsubscribe(self, stream: EventStream) -> None:
        with self._lock:
            if stream in self._subscribers:
                self._subscribers.remove(stream)
