"""What data the library stores, checked when it is written: one rule for every value a host or an
agent hands in (metadata, labels, context, an agent's messages, usage and tool arguments).

A stored value is JSON-like: dicts with str keys, lists, str, int (64-bit), float, bool, None,
plus bytes (msgpack keeps them; the conversation digest cannot, so messages refuse them there).
:func:`clean` returns a normalised deep copy, so what a live session holds is what a restart
replays: tuples become lists, subclasses of str/int/float/dict become the plain type. It refuses,
naming where in the value the problem is:

* NaN and infinities (JSON has no such numbers, and NaN != NaN breaks every comparison);
* nesting deeper than :data:`MAX_DEPTH` levels (every reader, ``mob-replay`` included, can
  handle that much);
* lone surrogates in strings (they cannot be encoded as UTF-8);
* anything else (sets, objects, non-str keys).

Pure: no I/O. Callers turn :class:`BadValue` into their own error (``InvalidRequest`` at a service's
door, ``AgentError`` for an agent's outcome, ``MobError`` for a mob definition).
"""

from __future__ import annotations

from typing import Any

#: The deepest nesting a stored value may have: ``{"a": [1]}`` is 2 levels, a scalar 0.
MAX_DEPTH = 64

class BadValue(ValueError):
    """A value the journal must not store; the message names where in it the problem is."""


def check_text(value: object, what: str) -> str:
    """``value`` if it is a str that UTF-8 can encode; else :class:`BadValue` naming ``what``."""
    if type(value) is not str:
        if isinstance(value, str):  # a str subclass (an enum member): stored as the plain str
            return check_text(str.__str__(value), what)
        raise BadValue(f"{what} must be a str, got {type(value).__name__} {_short(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise BadValue(f"{what} contains a lone surrogate {value[e.start]!r} at index {e.start}, which UTF-8 cannot encode") from None
    return value


def check_optional_text(value: object, what: str) -> str | None:
    """:func:`check_text`, or None for None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadValue(f"{what} must be a str or None, got {type(value).__name__} {_short(value)}")
    return check_text(value, what)


def clean(value: object, what: str) -> Any:
    """A normalised deep copy of ``value`` (tuples become lists), or :class:`BadValue` saying where it is wrong."""
    try:
        return _clean(value, 0)
    except _Bad as bad:
        path = bad.path[::-1]
        if len(path) > 8:  # a value nested 64 deep would give a line of 64 keys
            path = [*path[:3], f"...({len(path) - 6} more)...", *path[-3:]]
        raise BadValue(f"{what}{''.join(path)}: {bad.problem}") from None


def clean_dict(value: object, what: str) -> dict[str, Any]:
    """:func:`clean` of a dict (None gives ``{}``); anything else is refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadValue(f"{what} must be a dict or None, got {type(value).__name__} {_short(value)}")
    cleaned: dict[str, Any] = clean(value, what)
    return cleaned


class _Bad(Exception):
    """Raised deep in a value; each level adds its key on the way out (no path is built on success)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.path: list[str] = []


def _clean(value: Any, depth: int) -> Any:
    t = type(value)
    if t is str:
        if not value.isascii():
            _encodable(value)
        return value
    if t is bool or value is None or t is bytes:
        return value
    if t is int:
        return value  # beyond 64 bits the journal refuses it (EventRejected), naming the event
    if t is float:
        if value != value or value in (_INF, _NINF):
            raise _Bad(f"{value!r} is not allowed (JSON cannot represent it); use None or a string")
        return value
    if t is dict or t is list or t is tuple or isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise _Bad(f"nested deeper than {MAX_DEPTH} levels, the most a stored value may have")
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                try:
                    if type(key) is not str:
                        raise _Bad(f"keys must be str, got {type(key).__name__} {_short(key)}")
                    if not key.isascii():
                        _encodable(key)
                    out[key] = _clean(item, depth + 1)
                except _Bad as bad:
                    bad.path.append(f"[{key!r}]")
                    raise
            return out
        items = []
        for i, item in enumerate(value):
            try:
                items.append(_clean(item, depth + 1))
            except _Bad as bad:
                bad.path.append(f"[{i}]")
                raise
        return items
    # Subclasses (a str enum, an IntEnum, a float subclass) are stored as the plain type.
    if isinstance(value, str):
        return _clean(str.__str__(value), depth)
    if isinstance(value, int):
        return _clean(int(value), depth)
    if isinstance(value, float):
        return _clean(float(value), depth)
    raise _Bad(f"{t.__name__} cannot be stored (use dict, list, str, int, float, bool, None or bytes)")


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _Bad(f"a lone surrogate {text[e.start]!r} at index {e.start}, which UTF-8 cannot encode") from None


_INF = float("inf")
_NINF = float("-inf")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
