"""What both backends share: validating and encoding writes on the caller's thread, read filters
and upcasting. Backend-neutral: no storage here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import codec
from .errors import EventRejected
from .records import ANY, NO_STREAM, STREAM_EXISTS, AtomicWrite, Event, ExpectedSeq, RecordedEvent

Upcaster = Callable[[Any], Any]


class Prepared:
    """One atomic write, validated and with its events' bodies encoded, ready for a writer thread."""

    __slots__ = ("bodies", "expected", "raw", "record_head", "stamps", "stream_id")

    def __init__(self, stream_id: str, raw: bytes, bodies: list[bytes], expected: ExpectedSeq,
                 stamps: list[int | None] | None = None) -> None:
        self.stream_id = stream_id
        self.raw = raw
        self.record_head = codec.record_head(stream_id)
        self.bodies = bodies
        self.expected = expected
        # Each event's own Event.timestamp_ms; None (the usual case): every event gets the commit's time.
        self.stamps = stamps


def prepare(stream_id: str, events: Iterable[Event], expected: ExpectedSeq, argument: str = "events") -> Prepared:
    """Validate and encode on the caller's thread; raises EventRejected/ValueError.

    ``argument`` names the caller's parameter that held ``events``, for the error message.
    """
    try:
        raw = codec.stream_bytes(stream_id)
    except ValueError as e:
        raise EventRejected(str(e)) from e
    if isinstance(events, Event):
        raise EventRejected(f"stream {stream_id!r}: {argument} must be a list of journal.Event, got a single Event "
                            f"({events.type!r}); pass [event]. Nothing was written")
    if events is None or isinstance(events, (str, bytes, dict)) or not isinstance(events, Iterable):
        raise EventRejected(f"stream {stream_id!r}: {argument} must be a list of journal.Event, got "
                            f"{type(events).__name__}. Nothing was written")
    events = list(events)
    if not (expected in (ANY, NO_STREAM, STREAM_EXISTS) or (isinstance(expected, int) and not isinstance(expected, bool) and expected >= 0)):
        raise EventRejected(f"expected_seq must be journal.ANY, NO_STREAM, STREAM_EXISTS or an int >= 0, got {expected!r}")
    bodies = [codec.encode_body(stream_id, i, e) for i, e in enumerate(events)]
    stamps = None
    if any(e.timestamp_ms is not None for e in events):  # every item is an Event by now
        stamps = [_timestamp(stream_id, i, e) for i, e in enumerate(events)]
    return Prepared(stream_id, raw, bodies, expected, stamps)


def _timestamp(stream_id: str, index: int, event: Event) -> int | None:
    ts = event.timestamp_ms
    if ts is not None and (not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts < 2**63):
        raise EventRejected(f"stream {stream_id!r}, event #{index} ({event.type}): timestamp_ms must be None or an int "
                            f"of milliseconds since the epoch, got {ts!r}")
    return ts


def check_writes(writes: Iterable[AtomicWrite]) -> list[AtomicWrite]:
    """The writes of an ``append_batch``, refused whole (EventRejected) unless all are AtomicWrites."""
    if writes is None or isinstance(writes, (str, bytes, dict, AtomicWrite)) or not isinstance(writes, Iterable):
        raise EventRejected(f"append_batch(writes): expected a list of journal.AtomicWrite, got {type(writes).__name__}; "
                            "nothing was written")
    checked = list(writes)
    for n, write in enumerate(checked):
        if not isinstance(write, AtomicWrite):
            raise EventRejected(f"append_batch(writes): item #{n} is a {type(write).__name__}, not a journal.AtomicWrite; "
                                "nothing was written")
    return checked


def expectation_fails(expected: ExpectedSeq, highest: int) -> bool:
    """True when a write expecting ``expected`` must be refused on a stream whose highest seq is ``highest``."""
    return (
        (expected is NO_STREAM and highest != 0)
        or (expected is STREAM_EXISTS and highest == 0)
        or (isinstance(expected, int) and not isinstance(expected, bool) and expected != highest)
    )


def as_set(values: Iterable[str] | None) -> frozenset[str] | None:
    """A read filter as a set (a single string is one value, not its characters)."""
    if values is None:
        return None
    if isinstance(values, str):
        return frozenset((values,))
    return frozenset(values)


def upcast(upcasters: dict[tuple[str, int], Upcaster], event: RecordedEvent) -> RecordedEvent:
    """Apply the chain of upcasters registered for the event's type from its version on."""
    data, version = event.data, event.version
    while (fn := upcasters.get((event.type, version))) is not None:
        data, version = fn(data), version + 1
    return event if version == event.version else event._replace(data=data, version=version)


def matches(event: RecordedEvent, types: frozenset[str] | None, tags: frozenset[str] | None) -> bool:
    return (types is None or event.type in types) and (tags is None or not tags.isdisjoint(event.tags))
