"""Member turns admitted by a mob's supervisor and not finished yet.

The supervisor admits a turn on its own thread; the turn runs on the caller's thread and calls
:meth:`TurnAdmissions.done` when it ends, so ``stop()`` can wait until none is left.
"""

from __future__ import annotations

import threading


class TurnAdmissions:
    """A count of running member turns, shared by a supervisor and the handles of its mob."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def admit(self) -> None:
        """One more turn is running; :meth:`done` must follow when it ends."""
        with self._cond:
            self._count += 1

    def done(self) -> None:
        """An admitted turn ended (however it ended)."""
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for no turn to be running; True if none is."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)
