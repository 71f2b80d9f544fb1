"""How events, snapshots and keys become bytes, and back.

Layout (one LMDB sub-database each, see ``storage.py``):

* ``events``:    position (u64 big-endian)            -> msgpack ``[stream_id, seq, body, timestamp_ms, crc]``
  where ``body`` is ``[type, data, metadata, tags, version]``.
* ``index``:     stream_id UTF-8 + NUL + seq (u64 BE)  -> position (u64 BE)
* ``streams``:   stream_id UTF-8                       -> msgpack ``[highest_seq, deleted_to]``
* ``snapshots``: stream_id UTF-8 + NUL + seq (u64 BE)  -> msgpack ``[timestamp_ms, state, metadata, crc]``
* ``meta``:      b"head" -> last position (u64 BE); b"creation_id" -> the id in the directory's
  format marker (see ``directory.py``), which also holds ``FORMAT_VERSION``.

Big-endian integers make byte order equal numeric order, so cursors walk streams in seq order
and the event log in position order.

**Checksums.** Every record and snapshot is *sealed*: its last element is a 4-byte msgpack
``bin`` holding the CRC-32 (zlib's) of every byte before it, little-endian. CRC-32 has a fixed
residue: the CRC of the whole sealed value is always ``CRC_RESIDUE``, so checking costs one
``zlib.crc32`` over the stored bytes, with no slicing. Values written before format 2 are one
element shorter (array header 0x94 for records, 0x93 for snapshots) and carry no checksum:
they still decode, and ``verify()`` lists them. ``seal``/``encode_record``/``decode_record``
and ``encode_snapshot``/``decode_snapshot`` are the only code that knows this, so another
backend storing these bytes gets the same checks.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgpack

from .errors import EventRejected
from .records import Event, RecordedEvent

FORMAT_VERSION = 2
"""The format this code writes, recorded in the directory's marker: 1 was records and snapshots
without checksums (journals from before the marker), 2 seals each of them with a CRC-32."""
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


class ChecksumMismatch(ValueError):
    """A sealed value's bytes do not match its CRC-32: it was damaged after it was written."""


CRC_RESIDUE = 0x2144DF1C  # zlib.crc32(m + zlib.crc32(m).to_bytes(4, "little")), for every m
_CRC_ELEMENT = b"\xc4\x04"  # msgpack bin 8, length 4: the CRC's bytes follow
_crc32 = zlib.crc32


def seal(unsealed: bytes) -> bytes:
    """Append the CRC element to a msgpack array whose header already counts it."""
    raw = unsealed + _CRC_ELEMENT
    return raw + _crc32(raw).to_bytes(4, "little")


# A record is a fixarray: header byte, then the parts, so the writer can splice in the seq and
# timestamp it assigns without re-encoding the caller's body. 0x95: sealed; 0x94: before format 2.
_RECORD_HEADER = b"\x95"
_RECORD_BYTE = _RECORD_HEADER[0]
_SNAPSHOT_HEADER = b"\x94"


def encode_record(stream_id: str, seq: int, body: bytes, timestamp_ms: int) -> bytes:
    """The stored bytes of a record (the writer builds the same bytes from parts it reuses)."""
    return seal(record_head(stream_id) + pack(seq) + body + pack(timestamp_ms))


def record_head(stream_id: str) -> bytes:
    """The first bytes of every record of a stream, encoded on the caller's thread so that the
    writer thread (whose work under the GIL every waiting caller sits behind) only splices
    seq, body and timestamp after it and seals the result, as ``encode_record`` does."""
    return _RECORD_HEADER + pack(stream_id)


def is_sealed(raw: bytes, snapshot: bool = False) -> bool:
    """True when the value carries a checksum (written by format 2 or later)."""
    return raw[:1] == (_SNAPSHOT_HEADER if snapshot else _RECORD_HEADER)


_new_tuple = tuple.__new__
_unpackb = msgpack.unpackb


def decode_record(raw: bytes, position: int) -> RecordedEvent:
    """Decode one ``events`` value; raise ``ValueError`` (or a msgpack error) when it is damaged,
    :class:`ChecksumMismatch` when its checksum says so."""
    # Every event read passes here, so it is written for speed: raw[0] (an IndexError for an
    # empty value, one of DECODE_ERRORS) instead of a slice, exact type() checks (msgpack makes
    # exactly str and int), and no tuple() call for the usual empty tags.
    if raw[0] == _RECORD_BYTE:
        if _crc32(raw) != CRC_RESIDUE:
            raise ChecksumMismatch("the record's bytes do not match its CRC-32 checksum")
        stream_id, seq, body, ts, _ = _unpackb(raw, raw=False, strict_map_key=False)  # = unpack(), minus a call
    else:
        stream_id, seq, body, ts = _unpackb(raw, raw=False, strict_map_key=False)
    type_, data, metadata, tags, version = body
    if type(stream_id) is not str or type(seq) is not int or type(type_) is not str:
        raise ValueError("record fields have the wrong types")
    # tuple.__new__ skips the NamedTuple's Python-level __new__ (~6% of replay time, which
    # decodes every event). The field order is RecordedEvent's.
    return _new_tuple(RecordedEvent, (stream_id, seq, position, type_, data, metadata, tuple(tags) if tags else (), version, ts))


def encode_snapshot(timestamp_ms: int, state: bytes, metadata: bytes) -> bytes:
    """The stored bytes of a snapshot, from its state and metadata already packed."""
    return seal(_SNAPSHOT_HEADER + pack(timestamp_ms) + state + metadata)


def decode_snapshot(raw: bytes) -> tuple[int, Any, dict[str, Any]]:
    """``(timestamp_ms, state, metadata)`` of a stored snapshot; raises as :func:`decode_record`."""
    if raw[:1] == _SNAPSHOT_HEADER:
        if _crc32(raw) != CRC_RESIDUE:
            raise ChecksumMismatch("the snapshot's bytes do not match its CRC-32 checksum")
        ts, state, metadata, _ = unpack(raw)
    else:
        ts, state, metadata = unpack(raw)
    if not isinstance(ts, int) or not isinstance(metadata, dict):
        raise ValueError("snapshot fields have the wrong types")
    return ts, state, metadata


DECODE_ERRORS = (ValueError, TypeError, IndexError, msgpack.UnpackException, msgpack.ExtraData, UnicodeDecodeError)
