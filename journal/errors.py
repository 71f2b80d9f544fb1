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


RECOVERY = (
    "Restore the directory from a backup; to save what is still readable first, copy the "
    "directory, open the copy with readonly=True and read or export its streams, and run "
    "verify() on it to list every damaged record."
)


class CorruptJournal(JournalError):
    """The journal's files are damaged or are not a journal's: nothing of it is used.

    ``path`` names the file or directory at fault; the message says what was found and what to do.
    """

    def __init__(self, path: str, problem: str, advice: str = RECOVERY) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}. {advice}")


class UnsupportedFormat(IncompatibleJournal):
    """The journal directory was written in a newer format than this version of the library reads."""


class WriteFailed(JournalError):
    """A commit failed; nothing of the writes it carried is acknowledged. Reads keep working,
    and a later write tries again."""


class DiskFull(WriteFailed):
    """The file system holding the journal has no space left; free some, then write again."""


class MapGrowthFailed(WriteFailed):
    """The journal's memory map could not grow (for example ENOMEM under an address-space
    limit); the next write tries to grow it again."""


class LockFileReplaced(JournalError):
    """``lock.mdb`` was deleted or replaced while a writer has the journal open: a reader using
    the new one would not be seen by the writer and could read pages being overwritten."""


class CannotOpen(JournalError):
    """The journal's path cannot be used: it is a file, lies under a file, is read-only, or
    similar. The message names the path and the cause."""
