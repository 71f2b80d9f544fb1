"""An append-only, durable event journal: embedded on LMDB, or shared on PostgreSQL.

Streams of msgpack-encoded events, each with gap-free per-stream ``seq`` numbers, all sharing
one global ``position`` assigned in commit order; snapshots; live subscriptions; upcasting;
and group commit, so many concurrent appends share one fsync. It knows nothing of what the
events mean.

    import journal
    with journal.open("./data") as j:
        j.append("orders-1", [journal.Event("placed", {"total": 3})])
        for e in j.read("orders-1"):
            print(e.seq, e.type, e.data)

A directory gives the LMDB journal (:class:`Journal`); ``journal.open("postgresql://...")``
gives the PostgreSQL one (``journal.postgres``). Both offer :class:`EventJournal`, the contract
code above the journal is written against (``journal/protocol.py``).

Nothing is acknowledged before it is durable: under ``durability="sync"`` (the default) an
append returns only after its transaction is fsynced (LMDB) or committed with
``synchronous_commit=on`` (PostgreSQL).
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
    "CommitUnknown": ".errors",
    "CannotOpen": ".errors",
    "CorruptJournal": ".errors",
    "CorruptRecord": ".errors",
    "DiskFull": ".errors",
    "Event": ".records",
    "EventJournal": ".protocol",
    "EventRejected": ".errors",
    "Expect": ".records",
    "IncompatibleJournal": ".errors",
    "Journal": ".journal",
    "JournalClosed": ".errors",
    "JournalError": ".errors",
    "JournalLocked": ".errors",
    "JournalSubscription": ".protocol",
    "JournalUnavailable": ".errors",
    "LockOwner": ".protocol",
    "LockFileReplaced": ".errors",
    "MapGrowthFailed": ".errors",
    "NO_STREAM": ".records",
    "Problem": ".records",
    "ReadOnlyJournal": ".errors",
    "RecordedEvent": ".records",
    "Rejected": ".records",
    "STREAM_EXISTS": ".records",
    "Snapshot": ".records",
    "StoredSize": ".records",
    "StreamInfo": ".records",
    "Subscription": ".subscription",
    "UnsupportedFormat": ".errors",
    "VerifyReport": ".records",
    "WriteFailed": ".errors",
    "WrongExpectedVersion": ".errors",
    "open": ".journal",
}

if TYPE_CHECKING:
    from .errors import CannotOpen as CannotOpen
    from .errors import CommitUnknown as CommitUnknown
    from .errors import CorruptJournal as CorruptJournal
    from .errors import CorruptRecord as CorruptRecord
    from .errors import DiskFull as DiskFull
    from .errors import EventRejected as EventRejected
    from .errors import IncompatibleJournal as IncompatibleJournal
    from .errors import JournalClosed as JournalClosed
    from .errors import JournalError as JournalError
    from .errors import JournalLocked as JournalLocked
    from .errors import JournalUnavailable as JournalUnavailable
    from .errors import LockFileReplaced as LockFileReplaced
    from .errors import MapGrowthFailed as MapGrowthFailed
    from .errors import ReadOnlyJournal as ReadOnlyJournal
    from .errors import UnsupportedFormat as UnsupportedFormat
    from .errors import WriteFailed as WriteFailed
    from .errors import WrongExpectedVersion as WrongExpectedVersion
    from .journal import Journal as Journal
    from .journal import open as open
    from .protocol import EventJournal as EventJournal
    from .protocol import JournalSubscription as JournalSubscription
    from .protocol import LockOwner as LockOwner
    from .records import ANY as ANY
    from .records import NO_STREAM as NO_STREAM
    from .records import STREAM_EXISTS as STREAM_EXISTS
    from .records import AppendResult as AppendResult
    from .records import AtomicWrite as AtomicWrite
    from .records import Event as Event
    from .records import Expect as Expect
    from .records import Problem as Problem
    from .records import RecordedEvent as RecordedEvent
    from .records import Rejected as Rejected
    from .records import Snapshot as Snapshot
    from .records import StoredSize as StoredSize
    from .records import StreamInfo as StreamInfo
    from .records import VerifyReport as VerifyReport
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
