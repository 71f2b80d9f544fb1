"""What ``verify`` reports: the first divergence of each stream, per-stream reports, the whole report.

Every type here is plain data with a ``to_json`` that ``verify --json`` prints as it is.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

import journal


@dataclass
class Divergence:
    """The first thing about a stream that does not check out."""

    kind: str  # damaged | seq_gap | position_order | replay | digest | message_count | snapshot | snapshot_replay | missing
    seq: int | None
    position: int | None
    detail: str


@dataclass
class StreamReport:
    """The result of checking one stream (a session, a mob, or any other)."""

    stream_id: str
    kind: str  # "session", "mob" or "stream"
    events: int = 0
    snapshots: int = 0
    digest: str | None = None  # the final conversation digest (sessions that replay)
    message_count: int | None = None
    divergence: Divergence | None = None
    warnings: list[str] = field(default_factory=list)
    positions: array[int] = field(default_factory=lambda: array("q"), repr=False)  # of every event read

    @property
    def ok(self) -> bool:
        return self.divergence is None

    @property
    def id(self) -> str:
        return self.stream_id.split(":", 1)[1] if self.kind != "stream" else self.stream_id

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "ok": self.ok, "stream_id": self.stream_id, "kind": self.kind, "events": self.events,
            "snapshots": self.snapshots, "digest": self.digest, "message_count": self.message_count,
            "divergence": self.divergence.__dict__ if self.divergence else None, "warnings": self.warnings,
        }


@dataclass
class Report:
    """Everything ``verify`` found."""

    streams: list[StreamReport] = field(default_factory=list)
    positions_checked: bool = False  # the journal-wide position check ran (not for one session)
    problems: list[journal.Problem] = field(default_factory=list)  # storage-level
    full_scan: journal.VerifyReport | None = None  # journal.verify(), with storage=True
    processes: int = 1  # how many processes did the checking (worker processes, or this one)

    @property
    def bad(self) -> list[StreamReport]:
        return [s for s in self.streams if not s.ok]

    @property
    def ok(self) -> bool:
        return not self.bad and not self.problems

    @property
    def events_checked(self) -> int:
        return sum(s.events for s in self.streams)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "sessions_checked": sum(1 for s in self.streams if s.kind == "session"),
            "mobs_checked": sum(1 for s in self.streams if s.kind == "mob"),
            "other_streams_checked": sum(1 for s in self.streams if s.kind == "stream"),
            "events_checked": self.events_checked,
            "processes": self.processes,
            "bad": len(self.bad),
            "streams": [s.to_json() for s in self.streams],
            "storage": {
                "positions_checked": self.positions_checked,
                "full_scan": self.full_scan is not None,
                "records_scanned": self.full_scan.events_checked if self.full_scan else None,
                "ok": not self.problems,
                "problems": [p._asdict() for p in self.problems],
            },
        }


