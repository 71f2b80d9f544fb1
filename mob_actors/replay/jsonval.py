"""Lossless JSON for event data: what msgpack can hold, JSON can carry back.

Event data may contain ``bytes`` and maps with non-string keys, which plain JSON cannot hold.
They are written as tagged objects, and a real map that happens to look like a tag is escaped
the same way, so :func:`from_json` always gives back exactly what :func:`to_json` was given:

* ``b"\\x00\\x01"``        -> ``{"$bytes": "AAE="}`` (base64)
* ``{1: "a"}``             -> ``{"$map": [[1, "a"]]}`` (any map with a non-str key, or a key
  that starts with ``$`` and is a tag name, so a stored ``{"$bytes": ...}`` map survives too)

Everything else (str, int, float, bool, None, lists, str-keyed maps) is plain JSON.
"""

from __future__ import annotations

import base64
from typing import Any

_TAGS = frozenset(("$bytes", "$map"))


def to_json(value: Any) -> Any:
    """``value`` (as decoded from the journal) made JSON-encodable without losing anything."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in value):
            return {k: to_json(v) for k, v in value.items()}
        return {"$map": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    # Not something msgpack decodes to; keep the tool going and show what it was.
    return repr(value)


def from_json(value: Any) -> Any:
    """The inverse of :func:`to_json`."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            if "$bytes" in value:
                return base64.b64decode(value["$bytes"])
            if "$map" in value:
                return {_hashable(from_json(k)): from_json(v) for k, v in value["$map"]}
        return {k: from_json(v) for k, v in value.items()}
    return value


def _hashable(key: Any) -> Any:
    # msgpack map keys decode to str/int/bytes/...; a list key cannot occur (the journal
    # refuses to store one), but a hand-edited file might have one: fail with a clear reason.
    if isinstance(key, (list, dict)):
        raise ValueError(f"a map key must be a scalar, got {key!r}")
    return key
