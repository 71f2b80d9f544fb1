"""The conversation digest: SHA-256 of the messages list as canonical JSON (see RunBoundaryReceipt).

Replay checks a digest after every turn, so hashing the whole list each time would be quadratic.
:class:`RunningDigest` hashes each message once and keeps the hash of the list so far open, which
gives the same bytes as the one-shot :func:`conversation_digest` because canonical JSON of a list
is ``"[" + ",".join(canonical(m) for m in messages) + "]"``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

# A prebuilt encoder: json.dumps with options builds a new encoder on every call, 3x slower.
_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_canonical_slow = _encoder.encode

# JSONEncoder.encode still builds a C encoder object (and runs two Python frames) per call, which
# costs more than encoding a small message. Replay encodes every message once and the live path
# once per turn, so we build the C encoder once, with the same options, and keep JSONEncoder as
# the fallback. markers=None (no cycle check): a shared markers dict is not safe across threads;
# any error (a cycle, an unencodable value) is re-raised by the fallback with the usual message.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # private to json (absent from its stubs)
_c_encoder: Callable[[object, int], Iterable[str]] | None = (
    _c_make_encoder(None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    if _c_make_encoder is not None
    else None
)


def _canonical(value: object) -> str:
    if _c_encoder is not None:
        try:
            return "".join(_c_encoder(value, 0))
        except Exception:
            pass
    return _canonical_slow(value)


def canonical_json(value: object) -> bytes:
    """The canonical JSON of ``value`` (keys sorted, no spaces, UTF-8, no ASCII escaping)."""
    return _canonical(value).encode("utf-8")


def conversation_digest(messages: list[Any]) -> str:
    """The digest of ``messages`` in one go (the definition; anyone can recompute it)."""
    return hashlib.sha256(canonical_json(messages)).hexdigest()


class RunningDigest:
    """The digest of a growing messages list, updated one message at a time."""

    __slots__ = ("_count", "_hash")

    def __init__(self, messages: Iterable[Any] = ()) -> None:
        self._hash = hashlib.sha256(b"[")
        self._count = 0
        self.extend(messages)

    def extend(self, messages: Iterable[Any]) -> None:
        # One encoder call for the whole batch: canonical JSON of a list is "[" + the items joined
        # by "," + "]", so its inside is exactly what hashing the messages one by one would feed.
        """Add messages to the digested list."""
        messages = messages if isinstance(messages, list) else list(messages)
        if not messages:
            return
        inside = _canonical(messages)[1:-1]
        self._hash.update((("," + inside) if self._count else inside).encode("utf-8"))
        self._count += len(messages)

    def extend_canonical(self, encoded: bytes, count: int) -> None:
        """Add ``count`` messages given as the canonical JSON of their list (``b"[...]"``).

        What loading a snapshot part stored that way uses: hashing the stored bytes costs a
        fraction of encoding the messages again.
        """
        if count:
            inside = encoded[1:-1]
            self._hash.update(b"," + inside if self._count else inside)
            self._count += count

    def copy(self) -> RunningDigest:
        """An independent digest of the same messages so far."""
        other = RunningDigest.__new__(RunningDigest)
        other._hash = self._hash.copy()
        other._count = self._count
        return other

    @property
    def count(self) -> int:
        """How many messages were digested."""
        return self._count

    def hexdigest(self) -> str:
        """The digest of the messages so far, as :func:`conversation_digest` gives it."""
        h = self._hash.copy()
        h.update(b"]")
        return h.hexdigest()
