"""An append-only, durable event journal on LMDB.

Streams of msgpack-encoded events, each with gap-free per-stream ``seq`` numbers, all sharing
one global ``position`` assigned in commit order; snapshots; live subscriptions; upcasting;
and group commit, so many concurrent appends share one fsync. It knows nothing of what the
events mean.

    import journal
    with journal.open("./data") as j:
        j.append("orders-1", [journal.Event("placed", {"total": 3})])
        for e in j.read("orders-1"):
            print(e.seq, e.type, e.data)

Nothing is acknowledged before it is durable: under ``durability="sync"`` (the default) an
append returns only after its transaction is fsynced.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it, loaded on first use: code that only needs
# the record types (``journal.Event``) does not load LMDB or start the writer machinery.
_EXPORTS: dict[str, str] = {
    "ANY": ".records",
    "AppendResult": ".records",
    "AtomicWrite": ".records",
    "CorruptRecord": ".errors",
    "Event": ".records",
    "EventRejected": ".errors",
    "Expect": ".records",
    "Journal": ".journal",
    "JournalClosed": ".errors",
    "JournalError": ".errors",
    "JournalLocked": ".errors",
    "NO_STREAM": ".records",
    "Problem": ".records",
    "ReadOnlyJournal": ".errors",
    "RecordedEvent": ".records",
    "Rejected": ".records",
    "STREAM_EXISTS": ".records",
    "Snapshot": ".records",
    "StreamInfo": ".records",
    "Subscription": ".subscription",
    "VerifyReport": ".records",
    "WrongExpectedVersion": ".errors",
    "open": ".journal",
}

if TYPE_CHECKING:
    from .errors import CorruptRecord as CorruptRecord, EventRejected as EventRejected, JournalClosed as JournalClosed, JournalError as JournalError, JournalLocked as JournalLocked, ReadOnlyJournal as ReadOnlyJournal, WrongExpectedVersion as WrongExpectedVersion
    from .journal import Journal as Journal, open as open
    from .records import ANY as ANY, AppendResult as AppendResult, AtomicWrite as AtomicWrite, Event as Event, Expect as Expect, NO_STREAM as NO_STREAM, Problem as Problem, RecordedEvent as RecordedEvent, Rejected as Rejected, STREAM_EXISTS as STREAM_EXISTS, Snapshot as Snapshot, StreamInfo as StreamInfo, VerifyReport as VerifyReport
    from .subscription import Subscription as Subscription

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
