"""What both backends share: the opener's lifecycle surface, validating and encoding writes on
the caller's thread, snapshot encoding, read filters, upcasting and the seq-gap check of verify.
Backend-neutral: no storage here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, Self

from . import codec
from .errors import CorruptRecord, EventRejected
from .records import ANY, NO_STREAM, STREAM_EXISTS, AtomicWrite, Event, ExpectedSeq, Problem, RecordedEvent, Rejected, Snapshot

Upcaster = Callable[[Any], Any]


class _CountsCommits(Protocol):
    commits: int


class Opener:
    """What every journal opener has whatever its backend: context management, ``closed``,
    ``commits`` and upcasters. A backend sets the attributes below and defines ``close``."""

    _REPR_NAME = "journal"
    path: str
    durability: str
    readonly: bool
    _closed: bool
    _writer: _CountsCommits | None
    _upcasters: dict[tuple[str, int], Upcaster]

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readonly" if self.readonly else self.durability
        return f"<{self._REPR_NAME} {self._where()} {mode}{' closed' if self._closed else ''}>"

    def _where(self) -> str:
        """The location as messages and repr name it."""
        return self.path

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def commits(self) -> int:
        """Write transactions committed by this opener (appends per commit shows group commit at work)."""
        return self._writer.commits if self._writer else 0

    def register_upcaster(self, type: str, from_version: int, fn: Upcaster) -> None:
        """Register ``fn(data) -> data`` turning ``type`` at ``from_version`` into ``from_version + 1``."""
        self._upcasters[(type, from_version)] = fn

    def _upcast(self, event: RecordedEvent) -> RecordedEvent:
        return upcast(self._upcasters, event)


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


def prepare_batch(writes: Iterable[AtomicWrite]) -> list[Prepared | Rejected]:
    """The writes of an ``append_batch``, each prepared or, if it is invalid, rejected on its own."""
    prepared: list[Prepared | Rejected] = []
    for write in check_writes(writes):
        try:
            prepared.append(prepare(write.stream_id, write.events, write.expected_seq, "AtomicWrite.events"))
        except (EventRejected, ValueError) as e:
            prepared.append(Rejected(write.stream_id, e if isinstance(e, EventRejected) else EventRejected(str(e))))
    return prepared


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


def encode_snapshot_parts(stream_id: str, seq: int, state: Any, metadata: dict[str, Any] | None) -> tuple[bytes, bytes]:
    """A snapshot's state and metadata as msgpack, on the caller's thread; EventRejected if they cannot be."""
    try:
        return codec.pack_checked(state), codec.pack_checked(metadata or {})
    except (TypeError, ValueError, OverflowError) as e:
        raise EventRejected(f"snapshot of {stream_id!r} at seq {seq} cannot be encoded with msgpack: {e}") from e


def decode_snapshot(stream_id: str, seq: int, value: bytes) -> Snapshot:
    """The stored snapshot ``value``; CorruptRecord naming it if it is damaged."""
    try:
        ts, state, metadata = codec.decode_snapshot(value)
    except codec.DECODE_ERRORS as e:
        raise CorruptRecord(f"snapshot: {e!r}", stream_id=stream_id, seq=seq, position=None) from e
    return Snapshot(stream_id, seq, ts, state, metadata)


def decode_checked(record: bytes, position: int, stream_id: str, seq: int, upcasters: dict[tuple[str, int], Upcaster],
                   source: str) -> RecordedEvent:
    """The record found for (stream_id, seq), upcast; CorruptRecord if it is damaged or is another
    event than ``source`` (where the backend found it: "the index", "its row") says."""
    try:
        event = codec.decode_record(record, position)
    except codec.DECODE_ERRORS as e:
        raise CorruptRecord(repr(e), stream_id=stream_id, seq=seq, position=position) from e
    if event.stream_id != stream_id or event.seq != seq:
        raise CorruptRecord(f"record says stream {event.stream_id!r} seq {event.seq}, {source} says otherwise",
                            stream_id=stream_id, seq=seq, position=position)
    return upcast(upcasters, event) if upcasters else event


def scan(rows: Iterable[tuple[int, bytes]], after: int, count: int, types: frozenset[str] | None, tags: frozenset[str] | None,
         upcasters: dict[tuple[str, int], Upcaster], damaged: Callable[[int, Exception], CorruptRecord]) -> tuple[list[RecordedEvent], int]:
    """Of ``rows`` (position, record) after position ``after``: up to ``count`` events that match
    ``types`` and ``tags``, upcast, and the last position scanned. At a damaged record the events
    before it are handed out first (as read() does): the next scan starts there and raises
    ``damaged(position, error)``."""
    matched: list[RecordedEvent] = []
    last = after
    for position, record in rows:
        scanned, last = last, position
        try:
            event = codec.decode_record(record, position)
        except codec.DECODE_ERRORS as e:
            if scanned != after:
                return matched, scanned
            raise damaged(position, e) from e
        if upcasters:
            event = upcast(upcasters, event)
        if matches(event, types, tags):
            matched.append(event)
            if len(matched) >= count:
                break
    return matched, last


def check_snapshot(problems: list[Problem], stream_id: str, seq: int, value: bytes) -> None:
    """For verify: note a damaged snapshot (``checksum`` when its CRC-32 says so, else ``undecodable``)."""
    try:
        codec.decode_snapshot(value)
    except codec.ChecksumMismatch as e:
        problems.append(Problem("checksum", stream_id, seq, None, f"snapshot: {e}"))
    except codec.DECODE_ERRORS as e:
        problems.append(Problem("undecodable", stream_id, seq, None, f"cannot decode the snapshot: {e!r}"))


def seq_gaps(problems: list[Problem], stream_id: str, present: Iterable[int], deleted_to: int, highest: int) -> None:
    """For verify: note every seq missing from ``present`` (ascending) between ``deleted_to`` and ``highest``."""
    want = deleted_to + 1
    for seq in present:
        if seq != want:
            problems.append(Problem("seq_gap", stream_id, want, None, f"seq {want} is missing (next present is {seq})"))
            want = seq
        want += 1
    if want != highest + 1:
        problems.append(Problem("seq_gap", stream_id, want, None, f"events {want}..{highest} are missing"))
