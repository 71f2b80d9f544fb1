"""The conversation digest: SHA-256 of the messages list as canonical JSON (see RunBoundaryReceipt).

Replay checks a digest after every turn, so hashing the whole list each time would be quadratic.
:class:`RunningDigest` hashes each message once and keeps the hash of the list so far open, which
gives the same bytes as the one-shot :func:`conversation_digest` because canonical JSON of a list
is ``"[" + ",".join(canonical(m) for m in messages) + "]"``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

# A prebuilt encoder: json.dumps with options builds a new encoder on every call, 3x slower.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(value: object) -> bytes:
    return _canonical(value).encode("utf-8")


def conversation_digest(messages: list) -> str:
    """The digest of ``messages`` in one go (the definition; anyone can recompute it)."""
    return hashlib.sha256(canonical_json(messages)).hexdigest()


class RunningDigest:
    """The digest of a growing messages list, updated one message at a time."""

    __slots__ = ("_hash", "_count")

    def __init__(self, messages: Iterable = ()) -> None:
        self._hash = hashlib.sha256(b"[")
        self._count = 0
        self.extend(messages)

    def extend(self, messages: Iterable) -> None:
        update = self._hash.update
        for message in messages:
            if self._count:
                update(b",")
            update(canonical_json(message))
            self._count += 1

    def copy(self) -> RunningDigest:
        other = RunningDigest.__new__(RunningDigest)
        other._hash = self._hash.copy()
        other._count = self._count
        return other

    @property
    def count(self) -> int:
        return self._count

    def hexdigest(self) -> str:
        h = self._hash.copy()
        h.update(b"]")
        return h.hexdigest()
