"""Every error the journal raises; all derive from :class:`JournalError`."""

from __future__ import annotations


class JournalError(Exception):
    """Base of every error the journal raises."""


class WrongExpectedVersion(JournalError):
    """An append's ``expected_seq`` did not match the stream; nothing was written."""

    def __init__(self, stream_id: str, expected: object, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r}: expected_seq {expected!r} but its highest seq is {actual}; "
            "nothing was written. Re-read the stream and retry, or pass expected_seq=journal.ANY."
        )


class EventRejected(JournalError):
    """An event could not be encoded or is malformed; nothing of its write was stored."""


class CorruptRecord(JournalError):
    """A stored record cannot be decoded. Other records and streams are unaffected."""

    def __init__(self, message: str, *, stream_id: str | None, seq: int | None, position: int | None) -> None:
        self.stream_id = stream_id
        self.seq = seq
        self.position = position
        super().__init__(
            f"undecodable record at stream {stream_id!r} seq {seq} position {position}: {message}. "
            "Run journal.open(path).verify() to list every damaged record."
        )


class JournalLocked(JournalError):
    """Another writer has the journal open; only one writing process is allowed."""


class ReadOnlyJournal(JournalError):
    """A write was attempted on a journal opened with ``readonly=True``."""


class JournalClosed(JournalError):
    """The journal was closed (or inherited across fork) and cannot be used."""


class IncompatibleJournal(JournalError):
    """The stored journal was written in a format (schema) this version cannot use; nothing was changed."""


class JournalUnavailable(JournalError):
    """The journal's database cannot be reached (after retrying); the operation did nothing."""


class CommitUnknown(JournalError):
    """The connection was lost while a write was committing: it may or may not be stored.

    Never treated as success. Re-read the stream (``highest_seq``/``read``) before writing again.
    """
