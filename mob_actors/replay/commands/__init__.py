"""The ``mob-replay`` commands, one module each (export and import share ``transfer``).

Each module's :class:`~mob_actors.replay.commands.base.Command` names the command, adds its
arguments and runs it; :data:`ALL` is the order ``mob-replay --help`` lists them in.
"""

from __future__ import annotations

from . import diff, follow, html, ls, mob, show, state, transfer, verify
from .base import Command

ALL: tuple[Command, ...] = (
    ls.COMMAND, show.COMMAND, state.COMMAND, verify.COMMAND, diff.COMMAND,
    transfer.EXPORT, transfer.IMPORT, follow.COMMAND, mob.COMMAND, html.COMMAND,
)

__all__ = ["ALL", "Command"]
