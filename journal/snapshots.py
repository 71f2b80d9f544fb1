"""The LMDB journal's snapshot lookups and stored sizes, run inside a transaction of its caller.

Snapshots are keyed like the index, ``stream \\x00 seq``, so a stream's snapshots sit together in
seq order and the newest at or below a seq is found by walking back from it.
"""

from __future__ import annotations

from . import codec
from .storage import Dbs, Txn


def matching_snapshots(
    txn: Txn, dbs: Dbs, raw: bytes, min_seq: int, max_seq: int, max_ts: int | None, newest_only: bool
) -> list[tuple[int, bytes]]:
    """Snapshots of a stream in ``min_seq..max_seq`` not newer than ``max_ts``, newest first."""
    prefix = codec.stream_prefix(raw)
    cursor = txn.cursor(db=dbs["snapshots"])
    # Position on the last key <= (stream, max_seq), then walk backwards.
    upper = codec.seq_key(raw, min(max_seq, 2**64 - 1))
    if cursor.set_range(upper):
        if cursor.key() != upper and not cursor.prev():
            return []
    elif not cursor.last():
        return []
    out: list[tuple[int, bytes]] = []
    while True:
        key = cursor.key()
        if not key.startswith(prefix) or len(key) != len(prefix) + 8:
            break
        seq = codec.from_u64(key[-8:])
        if seq < min_seq:
            break
        value = cursor.value()
        if max_ts is None or _snapshot_ts(value) <= max_ts:
            out.append((seq, value))
            if newest_only:
                break
        if not cursor.prev():
            break
    return out


def _snapshot_ts(value: bytes) -> int:
    try:
        ts: int = codec.unpack(value)[0]
        return ts
    except codec.DECODE_ERRORS:
        return 0  # a damaged snapshot still matches by seq; load_snapshot then reports it


def event_bytes(txn: Txn, dbs: Dbs, prefix: bytes, start: bytes, limit: int) -> tuple[int, bytes | None]:
    """Bytes of up to ``limit`` events of the stream with key ``prefix``, from index key ``start``
    (with their index entries), and the key to go on from (None: done)."""
    total = 0
    cursor = txn.cursor(db=dbs["index"])
    if not cursor.set_range(start):
        return 0, None
    for n, (key, pos) in enumerate(cursor):
        if not key.startswith(prefix) or len(key) != len(prefix) + 8:
            return total, None
        if n == limit:
            return total, key
        value = txn.get(pos, db=dbs["events"])
        total += len(key) + 2 * len(pos) + (len(value) if value is not None else 0)
    return total, None


def snapshot_bytes(txn: Txn, dbs: Dbs, prefix: bytes) -> int:
    """Bytes of the snapshots (keys and values) of the stream with key ``prefix``."""
    total = 0
    cursor = txn.cursor(db=dbs["snapshots"])
    if cursor.set_range(prefix):
        for key, value in cursor:
            if not key.startswith(prefix) or len(key) != len(prefix) + 8:
                break
            total += len(key) + len(value)
    return total
