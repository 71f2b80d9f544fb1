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

from .errors import CorruptRecord, EventRejected, JournalClosed, JournalError, JournalLocked, ReadOnlyJournal, WrongExpectedVersion
from .journal import Journal, open
from .records import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    AtomicWrite,
    Event,
    Expect,
    Problem,
    RecordedEvent,
    Rejected,
    Snapshot,
    StreamInfo,
    VerifyReport,
)
from .subscription import Subscription

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "AtomicWrite",
    "CorruptRecord",
    "Event",
    "EventRejected",
    "Expect",
    "Journal",
    "JournalClosed",
    "JournalError",
    "JournalLocked",
    "Problem",
    "ReadOnlyJournal",
    "RecordedEvent",
    "Rejected",
    "Snapshot",
    "StreamInfo",
    "Subscription",
    "VerifyReport",
    "WrongExpectedVersion",
    "open",
]
