"""``follow``: a live tail of the events a running host appends, from the current head on.

It is a :meth:`journal.EventJournal.subscribe` on a read-only open: commits of a writer in another
process show up within the journal's poll interval. With ``mob_id`` it follows the mob's stream
and the sessions of its members, learning of new members from their ``member_spawned`` events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import journal

from ..core import events as ev
from .source import Damaged, Item


def member_sessions(j: journal.EventJournal, mob_id: str) -> set[str]:
    """The session streams of every member the mob ever spawned (retired ones included)."""
    streams = set()
    for event in j.read(ev.mob_stream(mob_id)):
        if event.type == ev.MEMBER_SPAWNED.name:
            streams.add(ev.session_stream(event.data["session_id"]))
    return streams


def follow(
    j: journal.EventJournal,
    emit: Callable[[Item], None],
    *,
    session_id: str | None = None,
    mob_id: str | None = None,
    limit: int | None = None,
    seconds: float | None = None,
    after: int | None = None,
) -> int:
    """Call ``emit`` for each new matching event until ``limit`` events, ``seconds``, or Ctrl-C.

    Returns the number of events emitted. ``KeyboardInterrupt`` propagates (the caller exits 0).
    """
    streams: set[str] | None = None  # None: every stream
    mob_stream = ev.mob_stream(mob_id) if mob_id is not None else None
    if session_id is not None:
        streams = {ev.session_stream(session_id)}
    elif mob_id is not None:
        assert mob_stream is not None
        streams = {mob_stream} | member_sessions(j, mob_id)
    position = j.head() if after is None else after
    stop = threading.Event()
    current: list[journal.JournalSubscription] = []

    def end() -> None:
        stop.set()
        for sub in current:
            sub.close()  # wakes a next() blocked in the subscription

    timer = threading.Timer(seconds, end) if seconds is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    emitted = 0
    deadline = time.monotonic() + seconds if seconds is not None else None
    try:
        while not stop.is_set() and (limit is None or emitted < limit):
            sub = j.subscribe(after=position)
            current[:] = [sub]
            if stop.is_set():  # the timer fired before the subscription existed
                break
            try:
                for event in sub:
                    position = event.position
                    if mob_stream is not None and event.stream_id == mob_stream and event.type == ev.MEMBER_SPAWNED.name:
                        assert streams is not None
                        streams.add(ev.session_stream(event.data["session_id"]))
                    if streams is None or event.stream_id in streams:
                        emit(event)
                        emitted += 1
                        if limit is not None and emitted >= limit:
                            break
                else:
                    break  # the subscription ended: closed by the timer, or the journal closed
            except journal.CorruptRecord as e:
                # The subscription cannot get past the bad record; report it, start a new one after it.
                if streams is None or e.stream_id in streams or e.stream_id is None:
                    emit(Damaged(e.stream_id, e.seq, e.position, str(e.__cause__ or e)))
                if e.position is None:
                    break
                position = e.position
            finally:
                sub.close()
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        if timer is not None:
            timer.cancel()
    return emitted
