"""How the runtime and a mob's handle talk to the mob's supervisor actor.

A :class:`SupervisorLink` turns a call of a supervisor method into a pykka ask with a timeout, and
a supervisor that is gone into a :class:`MobError` that says so. The method is named by passing
it unbound (``link.ask(MobSupervisor.spawn, "a", "worker", None)``), so mypy checks the
arguments and the result against the supervisor's own signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import pykka

from ..core.errors import MobError
from .supervisor import MobSupervisor

ASK_TIMEOUT_S = 120.0  # a supervisor call waits at most this long (it may archive many sessions)

P = ParamSpec("P")
T = TypeVar("T")


class SupervisorLink:
    """The way to one mob's supervisor: ask it, tell it, stop it."""

    def __init__(self, mob_id: str, ref: pykka.ActorRef[MobSupervisor]) -> None:
        self.mob_id = mob_id
        self._ref = ref
        self._proxy = ref.proxy()
        self.destroyed = False  # set once the mob was destroyed: calls then say so

    def ask(self, method: Callable[Concatenate[MobSupervisor, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``method`` on the supervisor's thread and wait for its result (or its error)."""
        try:
            result: T = getattr(self._proxy, method.__name__)(*args, **kwargs).get(timeout=ASK_TIMEOUT_S)
        except pykka.ActorDeadError:
            if self.destroyed:
                raise MobError(f"mob {self.mob_id!r} was destroyed; create it again with runtime.create_mob()") from None
            raise MobError(f"mob {self.mob_id!r} is no longer running (destroyed, or the runtime was closed)") from None
        return result

    def tell(self, method: Callable[Concatenate[MobSupervisor, P], object], *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue ``method`` on the supervisor without waiting (for callers that must not block)."""
        getattr(self._proxy, method.__name__)(*args, **kwargs)

    def stop(self) -> None:
        """Stop the supervisor actor and wait until it has stopped."""
        self._ref.stop(block=True)
