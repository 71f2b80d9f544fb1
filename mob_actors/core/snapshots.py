"""Session snapshots in parts: a small head per snapshot, the conversation in parts written once.

A full snapshot of a long session is mostly its messages, and writing them all again at every
checkpoint made a session's storage and CPU grow with the square of its length. So a snapshot
is stored in two kinds of journal snapshot records:

* the **head**, at the session stream's seq (``session:<id>``): every field of
  :meth:`SessionState.to_snapshot` except ``messages``, with ``format: 2`` and
  ``message_parts: [[part_seq, count], ...]``, the parts that hold its messages, in order;
* the **parts**, in the stream ``parts:session:<id>`` (a snapshot-only stream: it has no
  events), each a list of messages keyed by the seq of the snapshot that wrote it. A snapshot
  writes one part with the messages added since the previous snapshot and refers to the older
  parts again, so every message is written once. Only when the messages already written
  changed (a deferred session's first turn puts its system prompt at index 0) does a snapshot
  write all of them again, as one part. A part holds the canonical JSON of its messages (the
  bytes the conversation digest hashes), so loading a snapshot feeds the stored bytes to the
  digest instead of encoding every message again; a part whose messages would not come back
  equal from JSON (non-string keys, tuples) is stored as the list itself, as older releases did.

Cadence (:func:`due`): every ``checkpoint_every`` events, and no more often than one event per
:data:`HEAD_ENTRIES_PER_EVENT` entries of the head, so that writing heads stays O(1) per event.

Retention (``keep``): after a head is written, heads older than the ``keep`` newest are deleted,
then the parts no kept head refers to. Heads go first: a kill between the two deletes leaves
parts nobody refers to (deleted by the next pass), never a head without its parts. A kill
between writing a part and its head leaves an unreferenced part, which the next snapshot of the
session (in a new process) deletes.

Loading (:func:`load_state`, :func:`materialize`) reads a head and its parts back into the
format-1 dict ``to_snapshot`` gives, so recovery and ``mob-replay verify`` treat both formats
alike; a format-1 snapshot (one record with every message, as older releases and imports write)
loads as before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import journal

from .digest import RunningDigest, canonical_json
from .errors import StoreError
from .state import SNAPSHOT_FORMAT, SessionState

HEAD_FORMAT = 2
PARTS_PREFIX = "parts:"


#: A head holds every run id and input a session has seen, so it grows with the session; taking
#: one at most every ``entries / HEAD_ENTRIES_PER_EVENT`` events keeps the snapshot work per
#: event constant (and the events replayed on recovery within that bound too).
HEAD_ENTRIES_PER_EVENT = 100


def due(state: SessionState, every: int) -> bool:
    """Whether a snapshot is due: ``every`` events since the last one, or more for a large head."""
    entries = len(state.run_sequences) + len(state.run_last_seq) + len(state.inputs) + len(state.context_keys)
    return state.seq - state.checkpoint_seq >= max(every, entries // HEAD_ENTRIES_PER_EVENT)


def parts_stream(stream: str) -> str:
    """The snapshot-only stream holding the message parts of ``stream``'s snapshot heads."""
    return PARTS_PREFIX + stream


class StoredParts:
    """What one live state's messages list has in parts, and which heads this process wrote.

    Kept on the state (not a dataclass field, so reader copies never share it). It describes
    ``source``'s first ``covered`` messages only while ``source`` is the state's list and those
    messages are the same objects: evolve only appends, or replaces the whole list when it puts
    a system prompt first (see ``valid_for``).
    """

    __slots__ = ("covered", "first", "heads", "last", "refs", "source", "swept")

    def __init__(self, source: list[Any], refs: Sequence[Sequence[int]] = (), *, swept: bool = False) -> None:
        self.source = source
        self.refs: list[list[int]] = [[int(s), int(n)] for s, n in refs]
        self.covered = sum(n for _, n in self.refs)
        self.first: object = source[0] if self.covered else None
        self.last: object = source[self.covered - 1] if self.covered else None
        self.heads: list[tuple[int, int]] = []  # (head seq, its first part seq), oldest first
        self.swept = swept  # this process already removed what a crash may have left behind

    def valid_for(self, msgs: list[Any]) -> bool:
        n = self.covered
        return msgs is self.source and n <= len(msgs) and (not n or (msgs[0] is self.first and msgs[n - 1] is self.last))


def save(j: journal.EventJournal, stream: str, state: SessionState, keep: int | None) -> None:
    """Write a snapshot of ``state`` at ``state.seq`` (new part, then head), then apply retention.

    ``keep``: how many of the newest snapshots to keep (None: all). Raises
    ``journal.JournalError`` when a write fails; what was written before stays consistent (see
    the module docstring).
    """
    if keep is not None and keep < 1:
        raise ValueError("keep must be >= 1 or None")
    msgs = state.messages
    seq = state.seq
    ps = parts_stream(stream)
    stored: StoredParts | None = state.__dict__.get("_stored_parts")
    heads = stored.heads if stored is not None else []
    swept = stored is not None and stored.swept
    if stored is None or not stored.valid_for(msgs):
        stored = StoredParts(msgs)  # nothing stored yet, or the messages were rewritten: all again
    if not swept:
        # First snapshot of this process: learn the newest heads, and delete what a kill between
        # a part and its head left: parts above the newest head (a head refers only to parts at
        # or below its own seq) and below this snapshot.
        known = _newest_heads(j, stream, keep or 1)
        heads = sorted({*heads, *known})
        newest = max((h for h, _ in known), default=0)
        if seq - 1 > newest:
            j.delete_snapshots(ps, min_seq=newest + 1, max_seq=seq - 1)
    refs = list(stored.refs)
    if len(msgs) > stored.covered:
        j.save_snapshot(ps, seq, _part_value(msgs[stored.covered:]))
        refs.append([seq, len(msgs) - stored.covered])
    head = state.to_snapshot()
    del head["messages"]
    head["format"] = HEAD_FORMAT
    head["message_parts"] = refs
    j.save_snapshot(stream, seq, head)
    # Only now (the head is durable) does the cache move on.
    done = StoredParts(msgs, refs, swept=True)
    if keep is not None:
        done.heads = [h for h in heads if h[0] != seq] + [(seq, refs[0][0] if refs else seq)]
    state.__dict__["_stored_parts"] = done
    if keep is not None and (len(done.heads) > keep or not swept):
        _retain(j, stream, done, keep)


def _part_value(messages: list[Any]) -> Any:
    """What a part stores: the canonical JSON of ``messages`` if it decodes back to them, else the list."""
    try:
        encoded = canonical_json(messages)
    except (TypeError, ValueError, RecursionError):
        return messages  # not JSON: the digest check of the next turn reports it, not the snapshot
    # The check costs one decode per message, once: a part is written once (see the module docstring).
    return encoded if json.loads(encoded) == messages else messages


def part_messages(value: Any) -> Any:
    """The messages a stored part holds (its canonical JSON decoded; a list part as it is).

    Raises ``ValueError`` for bytes that are not JSON.
    """
    return json.loads(value) if isinstance(value, bytes) else value


def _retain(j: journal.EventJournal, stream: str, stored: StoredParts, keep: int) -> None:
    """Delete heads older than the ``keep`` newest, then the parts no kept head refers to."""
    kept = stored.heads[-keep:]
    j.delete_snapshots(stream, max_seq=kept[0][0] - 1)
    stored.heads = kept
    # Parts only grow with the heads (a newer head refers to the same parts or starts anew), so
    # everything below the oldest first part of a kept head is unreferenced.
    first_part = min(first for _, first in kept)
    if first_part > 1:
        j.delete_snapshots(parts_stream(stream), max_seq=first_part - 1)


def _newest_heads(j: journal.EventJournal, stream: str, count: int) -> list[tuple[int, int]]:
    """The ``count`` newest snapshots of ``stream`` as (seq, first part seq, its own seq if unreadable)."""
    out: list[tuple[int, int]] = []
    upper: int | None = None
    while len(out) < count and (upper is None or upper >= 1):
        try:
            snap = j.load_snapshot(stream, max_seq=upper)
        except journal.CorruptRecord as e:
            if e.seq is None:
                break
            upper = e.seq - 1  # a damaged head still counts as the newest one there is
            out.append((e.seq, e.seq))
            continue
        if snap is None:
            break
        out.append((snap.seq, _first_part(snap)))
        upper = snap.seq - 1
    return out


def _first_part(snap: journal.Snapshot) -> int:
    state = snap.state
    if isinstance(state, dict) and state.get("format") == HEAD_FORMAT and state.get("message_parts"):
        return int(state["message_parts"][0][0])
    return snap.seq  # a full snapshot needs no part


def materialize(j: journal.EventJournal, stream: str, snapshot_state: Any) -> Any:
    """The format-1 state dict of a stored snapshot (a head's parts read back in); others as stored.

    Raises :class:`StoreError` when a part a head refers to is missing or damaged.
    """
    return _materialize(j, stream, snapshot_state, None)


def _materialize(j: journal.EventJournal, stream: str, snapshot_state: Any, digest: RunningDigest | None) -> Any:
    """:func:`materialize`, feeding ``digest`` the parts' messages as they are read (None: not)."""
    if not isinstance(snapshot_state, dict) or snapshot_state.get("format") != HEAD_FORMAT:
        return snapshot_state
    ps = parts_stream(stream)
    messages: list[Any] = []
    try:
        refs = snapshot_state["message_parts"]
        # One read for all of them: the parts stream holds only this session's parts, and little
        # besides what this head refers to (the parts of the other kept heads).
        stored = {p.seq: p for p in j.load_snapshots(ps, min_seq=int(refs[0][0]), max_seq=int(refs[-1][0]))} if refs else {}
        for part_seq, count in refs:
            part = stored.get(part_seq)
            value = part.state if part is not None else None
            items = part_messages(value)
            if part is None or part.seq != part_seq or not isinstance(items, list) or len(items) != count:
                raise StoreError(f"{stream}: snapshot part {part_seq} ({count} messages) is missing or damaged")
            if digest is not None:
                if isinstance(value, bytes):
                    digest.extend_canonical(value, count)
                else:
                    digest.extend(items)
            messages.extend(items)
    except journal.JournalError as e:
        raise StoreError(f"{stream}: a snapshot part cannot be read: {e}") from e
    except (TypeError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        raise StoreError(f"{stream}: the snapshot's message_parts are malformed: {e!r}") from e
    out = {k: v for k, v in snapshot_state.items() if k != "message_parts"}
    out["format"] = SNAPSHOT_FORMAT
    out["messages"] = messages
    return out


def load_state(j: journal.EventJournal, stream: str, max_seq: int | None = None) -> SessionState | None:
    """The session state of the newest snapshot at or before ``max_seq`` (None if there is none).

    Raises ``journal.JournalError``, :class:`StoreError` or ``KeyError``/``TypeError`` when the
    snapshot or one of its parts cannot be read (recovery then replays from the start).
    """
    snap = j.load_snapshot(stream, max_seq=max_seq)
    if snap is None:
        return None
    digest = RunningDigest()
    state = SessionState.from_snapshot(_materialize(j, stream, snap.state, digest), digest)
    if isinstance(snap.state, dict) and snap.state.get("format") == HEAD_FORMAT:
        state.__dict__["_stored_parts"] = StoredParts(state.messages, snap.state["message_parts"])
    return state
