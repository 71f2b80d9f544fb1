"""The journal's value types: what callers append and what they read back."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Expect(enum.Enum):
    """Symbolic ``expected_seq`` values for an append (an ``int`` means an exact highest seq)."""

    ANY = "any"
    NO_STREAM = "no_stream"
    STREAM_EXISTS = "stream_exists"

    def __repr__(self) -> str:
        return f"journal.{self.name}"


ANY = Expect.ANY
NO_STREAM = Expect.NO_STREAM
STREAM_EXISTS = Expect.STREAM_EXISTS

ExpectedSeq = Expect | int


@dataclass(frozen=True)
class Event:
    """An event to append. ``data`` is any msgpack-encodable value.

    ``timestamp_ms`` (None: the commit's time, the usual case) keeps the time an event already
    has, for copying events between journals (``mob-replay import``).
    """

    type: str
    data: Any = None
    metadata: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()
    version: int = 1
    timestamp_ms: int | None = None


class RecordedEvent(NamedTuple):
    """An event as stored: ``seq`` is per stream (from 1), ``position`` is global (from 1)."""

    stream_id: str
    seq: int
    position: int
    type: str
    data: Any
    metadata: dict[str, Any]
    tags: tuple[str, ...]
    version: int
    timestamp_ms: int


class AppendResult(NamedTuple):
    """Where an atomic write landed: seqs ``first_seq..last_seq``, ``position`` of its last event."""

    stream_id: str
    first_seq: int
    last_seq: int
    position: int


@dataclass(frozen=True)
class AtomicWrite:
    """One all-or-nothing write of several events to one stream, for :meth:`Journal.append_batch`."""

    stream_id: str
    events: list[Event] | tuple[Event, ...]
    expected_seq: ExpectedSeq = ANY


class Rejected(NamedTuple):
    """The result of a write in a batch that was not stored; ``error`` says why."""

    stream_id: str
    error: Exception


class Snapshot(NamedTuple):
    """A stream's state saved at ``seq``."""

    stream_id: str
    seq: int
    timestamp_ms: int
    state: Any
    metadata: dict[str, Any]


class StoredSize(NamedTuple):
    """What :meth:`Journal.stored_size` counts for one stream, in bytes."""

    events: int
    snapshots: int

    @property
    def total(self) -> int:
        return self.events + self.snapshots


class StreamInfo(NamedTuple):
    """A stream's bounds: events ``deleted_to+1..highest_seq`` are readable."""

    stream_id: str
    highest_seq: int
    deleted_to: int


class Problem(NamedTuple):
    """One defect found by :meth:`Journal.verify`."""

    kind: str  # "checksum", "undecodable", "seq_gap", "index_mismatch", "missing_event", "orphan_event", "head"
    stream_id: str | None
    seq: int | None
    position: int | None
    detail: str


@dataclass
class VerifyReport:
    """What :meth:`Journal.verify` found: ``ok`` is True when ``problems`` is empty.

    ``no_checksum`` lists the records written before checksums existed (format 1), as
    ``(first_position, last_position)`` runs, and ``no_checksum_snapshots`` such snapshots as
    ``(stream_id, seq)``: they decode and are checked for consistency, but damage inside them
    that still decodes cannot be detected. They do not make the report fail.
    """

    events_checked: int = 0
    streams_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    snapshots_checked: int = 0
    no_checksum: list[tuple[int, int]] = field(default_factory=list)
    no_checksum_snapshots: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
