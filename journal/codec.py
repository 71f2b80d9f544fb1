"""How events, snapshots and keys become bytes, and back.

Layout (one LMDB sub-database each, see ``storage.py``):

* ``events``:    position (u64 big-endian)            -> msgpack ``[stream_id, seq, body, timestamp_ms]``
  where ``body`` is ``[type, data, metadata, tags, version]``.
* ``index``:     stream_id UTF-8 + NUL + seq (u64 BE)  -> position (u64 BE)
* ``streams``:   stream_id UTF-8                       -> msgpack ``[highest_seq, deleted_to]``
* ``snapshots``: stream_id UTF-8 + NUL + seq (u64 BE)  -> msgpack ``[timestamp_ms, state, metadata]``
* ``meta``:      b"head" -> last position (u64 BE); b"format" -> format version

Big-endian integers make byte order equal numeric order, so cursors walk streams in seq order
and the event log in position order.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import EventRejected
from .records import Event, RecordedEvent

FORMAT_VERSION = 1
MAX_STREAM_ID_BYTES = 400  # LMDB keys are at most 511 bytes; leave room for the seq suffix
_SEP = b"\x00"


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def from_u64(b: bytes) -> int:
    return int.from_bytes(b, "big")


def stream_bytes(stream_id: str) -> bytes:
    """Validate a stream id and return its key prefix."""
    if not isinstance(stream_id, str) or not stream_id:
        raise ValueError(f"stream_id must be a non-empty str, got {stream_id!r}")
    raw = stream_id.encode("utf-8")
    if _SEP in raw:
        raise ValueError(f"stream_id must not contain NUL characters: {stream_id!r}")
    if len(raw) > MAX_STREAM_ID_BYTES:
        raise ValueError(f"stream_id is {len(raw)} bytes; at most {MAX_STREAM_ID_BYTES} are allowed")
    return raw


def seq_key(stream_raw: bytes, seq: int) -> bytes:
    return stream_raw + _SEP + u64(seq)


def stream_prefix(stream_raw: bytes) -> bytes:
    return stream_raw + _SEP


def split_seq_key(key: bytes) -> tuple[str, int]:
    return key[:-9].decode("utf-8"), from_u64(key[-8:])


def pack(value: Any) -> bytes:
    raw: bytes = msgpack.packb(value, use_bin_type=True)
    return raw


def unpack(raw: bytes) -> Any:
    # strict_map_key=False: callers may store maps with int keys.
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def encode_body(stream_id: str, index: int, event: Event) -> bytes:
    """Encode the caller-supplied part of an event, or raise :class:`EventRejected`.

    Runs on the caller's thread, so a bad event is refused before it reaches the writer.
    """
    if not isinstance(event, Event):
        raise EventRejected(f"stream {stream_id!r}, event #{index}: expected journal.Event, got {type(event).__name__}")
    if not isinstance(event.type, str) or not event.type:
        raise EventRejected(f"stream {stream_id!r}, event #{index}: type must be a non-empty str")
    if not isinstance(event.version, int) or event.version < 1:
        raise EventRejected(f"stream {stream_id!r}, event #{index} ({event.type}): version must be an int >= 1")
    if event.metadata is not None and not isinstance(event.metadata, dict):
        raise EventRejected(f"stream {stream_id!r}, event #{index} ({event.type}): metadata must be a dict or None")
    if isinstance(event.tags, (str, bytes)):
        # list("urgent") would silently store six one-letter tags.
        raise EventRejected(f"stream {stream_id!r}, event #{index} ({event.type}): tags must be a tuple of strings, not a single {type(event.tags).__name__}")
    try:
        tags = list(event.tags)
    except TypeError:
        tags = None
    if tags is None or not all(isinstance(t, str) for t in tags):
        raise EventRejected(f"stream {stream_id!r}, event #{index} ({event.type}): tags must be strings")
    try:
        return pack_checked([event.type, event.data, event.metadata or {}, tags, event.version])
    except (TypeError, ValueError, OverflowError) as e:
        raise EventRejected(
            f"stream {stream_id!r}, event #{index} ({event.type}) cannot be encoded with msgpack: {e}. "
            "Use only dicts, lists, str, bytes, int, float, bool and None in data and metadata."
        ) from e


def pack_checked(value: Any) -> bytes:
    """``pack``, refusing values that would encode but never decode again.

    msgpack encodes a dict keyed by tuples (map keys that are arrays), but decoding makes those
    keys lists, which cannot be dict keys: the stored record would be unreadable forever and
    break every ``read_all`` and subscription that reaches it. Decoding once here catches that.
    """
    raw = pack(value)
    try:
        unpack(raw)
    except DECODE_ERRORS as e:
        raise ValueError(f"the value encodes but does not decode again ({e}); are there tuples as dict keys?") from e
    return raw


# A record is a fixarray of 4: header byte, then the parts, so the writer can splice in the
# seq and timestamp it assigns without re-encoding the caller's body.
_RECORD_HEADER = b"\x94"


def encode_record(stream_id: str, seq: int, body: bytes, timestamp_ms: int) -> bytes:
    return record_head(stream_id) + pack(seq) + body + pack(timestamp_ms)


def record_head(stream_id: str) -> bytes:
    """The first bytes of every record of a stream, encoded on the caller's thread so that the
    writer thread (whose work under the GIL every waiting caller sits behind) only splices
    seq, body and timestamp after it, as ``encode_record`` does."""
    return _RECORD_HEADER + pack(stream_id)


_new_tuple = tuple.__new__
_unpackb = msgpack.unpackb


def decode_record(raw: bytes, position: int) -> RecordedEvent:
    """Decode one ``events`` value; raise ``ValueError`` (or a msgpack error) when it is damaged."""
    stream_id, seq, body, ts = _unpackb(raw, raw=False, strict_map_key=False)  # = unpack(), minus a call
    type_, data, metadata, tags, version = body
    if not isinstance(stream_id, str) or not isinstance(seq, int) or not isinstance(type_, str):
        raise ValueError("record fields have the wrong types")
    # tuple.__new__ skips the NamedTuple's Python-level __new__ (~6% of replay time, which
    # decodes every event). The field order is RecordedEvent's.
    return _new_tuple(RecordedEvent, (stream_id, seq, position, type_, data, metadata, tuple(tags), version, ts))


DECODE_ERRORS = (ValueError, TypeError, msgpack.UnpackException, msgpack.ExtraData, UnicodeDecodeError)
