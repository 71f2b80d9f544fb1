"""Opening a journal for the replay tool, and reading it without ever stopping at a bad record.

Journals are opened read-only (``journal.open(path, readonly=True)``), which LMDB allows next to
a writer in another process: the tool works on the journal of a host that is running. A record
that cannot be decoded is handed out as a :class:`Damaged` item in place of the event, naming its
stream, seq and position, and reading goes on with the next record; each command decides what a
damaged record means for it (a timeline shows it, verify fails the session).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import journal

from ..core import events as ev
from ..core.errors import SessionNotFound
from .errors import UsageError


@dataclass(frozen=True)
class Damaged:
    """A record that could not be read (see :class:`journal.CorruptRecord`)."""

    stream_id: str | None
    seq: int | None
    position: int | None
    reason: str

    def where(self) -> str:
        def known(value: object) -> str:
            return "?" if value is None else str(value)

        return f"stream {known(self.stream_id)} seq {known(self.seq)} position {known(self.position)}"

    def to_json(self) -> dict[str, Any]:
        return {"damaged": True, "stream_id": self.stream_id, "seq": self.seq, "position": self.position, "reason": self.reason}


Item = journal.RecordedEvent | Damaged


def is_url(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a PostgreSQL journal (``postgresql://...``) rather than a directory."""
    return isinstance(path, str) and path.startswith(("postgresql://", "postgres://"))


def location(path: str | os.PathLike[str]) -> str:
    """How to name a journal in output: an absolute directory, or the URL without its password."""
    if is_url(path):
        return re.sub(r"^(\w+://[^:/@]*):[^@]*@", r"\1@", str(path))
    return os.path.abspath(path)


def open_journal(path: str | os.PathLike[str], *, writable: bool = False) -> journal.EventJournal:
    """Open the journal at ``path``, a directory or a ``postgresql://`` URL (read-only unless
    ``writable``), or raise :class:`UsageError`."""
    path = os.fspath(path)
    if is_url(path):
        try:
            j = journal.open(path) if writable else journal.open(path, readonly=True)
        except journal.JournalError as e:
            raise UsageError(f"cannot open the journal: {e}") from e
        ev.register_upcasters(j)
        return j
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{path}: not a journal directory")
    if not writable and not os.path.isdir(path):
        raise UsageError(f"{path}: no such journal directory")
    if not writable and not os.path.exists(os.path.join(path, "data.mdb")):
        raise UsageError(f"{path}: not a journal (no data.mdb in it)")
    try:
        j = journal.open(path) if writable else journal.open(path, readonly=True)
    except journal.JournalLocked as e:
        raise UsageError(f"{path}: {e}") from e
    except (journal.JournalError, OSError) as e:
        raise UsageError(f"{path}: cannot open the journal: {e}") from e
    ev.register_upcasters(j)  # read old event versions as the current ones, like the services do
    return j


def read_stream(j: journal.EventJournal, stream_id: str, from_seq: int = 1, to_seq: int | None = None) -> Iterator[Item]:
    """The stream's events in seq order, with a :class:`Damaged` item for each unreadable one."""
    next_seq = max(from_seq, 1)
    while True:
        try:
            for event in j.read(stream_id, from_seq=next_seq, to_seq=to_seq):
                next_seq = event.seq + 1
                yield event
            return
        except journal.CorruptRecord as e:
            yield Damaged(e.stream_id, e.seq, e.position, _reason(e))
            # j.read always names the seq of the record it failed on; resume right after it.
            next_seq = (e.seq if e.seq is not None else next_seq) + 1
            if to_seq is not None and next_seq > to_seq:
                return


def read_everything(j: journal.EventJournal, after: int = 0) -> Iterator[Item]:
    """Every event of every stream in position order, with :class:`Damaged` items in between."""
    while True:
        try:
            for event in j.read_all(after=after):
                after = event.position
                yield event
            return
        except journal.CorruptRecord as e:
            yield Damaged(e.stream_id, e.seq, e.position, _reason(e))
            if e.position is None:  # read_all always names the position; never loop on it
                return
            after = e.position


def _reason(e: journal.CorruptRecord) -> str:
    # The exception text repeats where the record is and how to list others; keep the cause.
    text = str(e)
    _, sep, rest = text.partition(": ")
    cause = rest.rsplit(". Run journal.open", 1)[0] if sep else text
    return cause or text


def session_ids(j: journal.EventJournal) -> list[str]:
    """Every session with a stream in the journal, in id (= creation) order."""
    prefix = len(ev.SESSION_STREAM_PREFIX)
    return [info.stream_id[prefix:] for info in j.streams(ev.SESSION_STREAM_PREFIX)]


def resolve_session(j: journal.EventJournal, text: str) -> str:
    """The session id ``text`` names: an exact id, ``session:<id>``, or a unique prefix of one."""
    found = _resolve(j, text, ev.SESSION_STREAM_PREFIX, "sessions")
    if found is None:
        text = text.removeprefix(ev.SESSION_STREAM_PREFIX)
        raise SessionNotFound(text, f"no stream {ev.session_stream(text)} in journal {j.path}")
    return found


def resolve_mob(j: journal.EventJournal, text: str) -> str:
    """The mob id ``text`` names: an exact id, ``mob:<id>``, or a unique prefix of one."""
    found = _resolve(j, text, ev.MOB_STREAM_PREFIX, "mobs")
    if found is None:
        text = text.removeprefix(ev.MOB_STREAM_PREFIX)
        raise UsageError(f"no mob {text!r} in journal {j.path} (no stream {ev.mob_stream(text)}); {known_ids(j, 'mob')}")
    return found


def known_ids(j: journal.EventJournal, kind: str, shown: int = 5) -> str:
    """What ``kind`` (``"session"`` or ``"mob"``) the journal does have, for an error message."""
    prefix = ev.SESSION_STREAM_PREFIX if kind == "session" else ev.MOB_STREAM_PREFIX
    ids = [info.stream_id[len(prefix):] for info in islice(j.streams(prefix), shown + 1)]
    if not ids:
        return f"the journal has no {kind}s"
    more = f", ... (`mob-replay ls {j.path}` lists them all)" if len(ids) > shown else ""
    return f"known {kind}s: {', '.join(ids[:shown])}{more}"


def _resolve(j: journal.EventJournal, text: str, prefix: str, kind: str) -> str | None:
    """The id after ``prefix`` that ``text`` names exactly or by a unique prefix; None if none."""
    text = text.removeprefix(prefix)
    if not text:
        return None
    if j.highest_seq(prefix + text) > 0:
        return text
    found = [info.stream_id[len(prefix):] for info in islice(j.streams(prefix + text), 6)]
    if len(found) > 1:
        more = ", ..." if len(found) > 5 else ""
        raise UsageError(f"{text!r} matches several {kind} ({', '.join(found[:5])}{more}); give more of the id")
    return found[0] if found else None
