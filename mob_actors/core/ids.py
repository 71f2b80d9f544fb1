"""Identifiers: UUIDv7 strings for sessions, runs and inputs (time-ordered, so ids sort by creation)."""

from __future__ import annotations

import _thread
import os
import time
import uuid

# A bare lock from ``_thread`` (built in, loaded by every interpreter at start-up): all this needs,
# without loading ``threading`` into the pure core.
_lock = _thread.allocate_lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """A new UUIDv7 as a lowercase hyphenated string (RFC 9562, monotonic within this process)."""
    global _last_ms, _counter
    # Random bits first, outside the lock: os.urandom is a syscall that drops the GIL, and holding
    # the lock across it made every other thread minting an id queue up behind it.
    rand = int.from_bytes(os.urandom(10), "big")
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same (or a backwards) millisecond: bump a 12-bit counter so ids stay ordered.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms, _counter = ms, (rand >> 64) & 0x3FF
        counter = _counter
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    # Formatted directly: the same text as str(uuid.UUID(int=value)), without building the object.
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def check_id(value: object, what: str = "session id") -> str:
    """Return ``value`` normalised if it is a UUID string, else raise ``ValueError`` naming ``what``."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a UUID string, got {type(value).__name__}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a UUID (use mob_actors.new_id() to make one)") from None
