"""The errors of the replay tool, one tree under :class:`mob_actors.Error`.

Each says how ``mob-replay`` ends when it escapes a command: :class:`UsageError` (bad usage, or a
journal or file that cannot be opened) exits 2, :class:`Problems` (the command found something
wrong: damaged records, a refused import...) exits 1. The message is the one-line reason the
tool prints on stderr. A damaged record is not an error: readers hand it out as a
:class:`mob_actors.replay.source.Damaged` item, and each command decides what it means.
"""

from __future__ import annotations

from ..core.errors import Error

__all__ = ["ExportRefused", "Problems", "ReplayError", "UsageError"]


class ReplayError(Error):
    """Base of the replay tool's errors; ``exit_code`` is how ``mob-replay`` ends on one."""

    code = "REPLAY_ERROR"
    exit_code = 2


class UsageError(ReplayError):
    """Bad usage, or a journal or file that cannot be opened: the tool exits with 2."""

    code = "REPLAY_USAGE"
    exit_code = 2


class Problems(ReplayError):
    """A command found a problem: the tool exits with 1; the message is the one-line reason."""

    code = "REPLAY_PROBLEMS"
    exit_code = 1


class ExportRefused(Problems):
    """The session cannot be exported or imported as asked (exit 1); nothing was written."""

    code = "REPLAY_EXPORT_REFUSED"
