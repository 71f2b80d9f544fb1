"""``ClusterMobHandle``: a ``MobHandle`` whose mob lives in a Ray actor, somewhere in the cluster.

When the actor's node dies, Ray restarts the actor elsewhere and calls fail for a few seconds
with "actor unavailable". The handle then waits for the new incarnation and goes on, bounded by
the cluster's ``failover_timeout_s`` (then :class:`MobUnavailable`). What it does about a call
that was *in flight* when the host died depends on the call:

* reads are simply asked again;
* a turn carries a request id, so asking again returns the turn's stored result if it was
  committed, and runs it once if it was not (never twice);
* every other command is checked against the mob's state on the new host (is the member there,
  is the mob stopped, did the epoch move on?) and sent again only if it had not been applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, GetTimeoutError, RayActorError, RayTaskError

import journal

from ..core.errors import MobError, SessionBusy
from ..core.ids import new_id
from ..core.mob import Member, MobDefinition, MobState, MobStatus
from ..core.model import RunResult
from .host import HostInfo, HostNotReady

if TYPE_CHECKING:
    from .placement import RayMobCluster

RETRY_PAUSE_S = 0.1
Check = Callable[[], "tuple[bool, Any]"]  # after a failover: (already applied?, the call's result)


class MobUnavailable(MobError):
    """The mob's host did not come back within the cluster's ``failover_timeout_s``.

    The message says whether the interrupted call may have been applied; the mob's state on its
    next host is the truth (``status()``, ``members()``), and a turn is safe to retry with the
    same ``request_id``.
    """

    code = "MOB_UNAVAILABLE"


class ClusterMobHandle:
    """Operations on one mob hosted in the cluster: the methods of ``MobHandle``, over Ray."""

    def __init__(self, cluster: RayMobCluster, mob_id: str) -> None:
        self._cluster = cluster
        self.mob_id = mob_id

    def __repr__(self) -> str:
        return f"<ClusterMobHandle {self.mob_id!r}>"

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, method: str, *args: Any, check: Check | None = None, **kwargs: Any) -> Any:
        """Run ``MobHandle.<method>`` on the mob's host (see the module docstring for failovers)."""
        return self._ask(lambda host: host.call.remote(self.mob_id, method, args, kwargs), method, check)

    def _ask(self, submit: Callable[[Any], Any], what: str, check: Check | None) -> Any:
        """Submit to the mob's host actor and unwrap its :class:`Reply`; through a failover, ask
        again (``check is None``: the call is safe to repeat) or only if ``check`` says it was
        not applied."""
        deadline = time.monotonic() + self._cluster.failover_timeout_s
        repeated = False
        while True:
            try:
                reply = ray.get(submit(self._cluster._host_for(self.mob_id)), timeout=self._cluster.call_timeout_s)
            except GetTimeoutError:
                raise MobError(f"mob {self.mob_id!r}: {what}() got no answer within {self._cluster.call_timeout_s}s") from None
            except RayActorError as e:
                self._host_down(e)
                self.host(deadline=deadline, interrupted=what)
                if check is not None:
                    applied, value = check()
                    if applied:
                        return value
                repeated = True
                continue
            except RayTaskError as e:  # a bug, not a library error: say where it happened
                raise MobError(f"mob {self.mob_id!r}: {what}() failed on its host: {e}") from None
            try:
                return reply.unwrap()
            except HostNotReady:  # refused before anything ran: wait until the host serves, ask again
                self.host(deadline=deadline)
            except SessionBusy:
                # Our own first attempt may still be running on a host that was only cut off for
                # a moment: wait for it to commit (then the repeat returns its result) or fail.
                if not repeated or time.monotonic() >= deadline:
                    raise
                time.sleep(RETRY_PAUSE_S)

    def _host_down(self, e: RayActorError) -> None:
        if isinstance(e, ActorDiedError) and not isinstance(e, ActorUnavailableError):
            # Dead for good (killed on purpose, or Ray gave up on it): look it up again, so a new
            # actor under the same name is used, or made.
            self._cluster._forget_host(self.mob_id)
        time.sleep(RETRY_PAUSE_S)

    def host(self, *, deadline: float | None = None, interrupted: str | None = None) -> HostInfo:
        """Where the mob runs now (node id, pid) once its host serves; waits through a failover
        like every call (:class:`MobUnavailable` when ``failover_timeout_s`` runs out)."""
        if deadline is None:
            deadline = time.monotonic() + self._cluster.failover_timeout_s
        last = "no answer yet"
        while True:
            host = self._cluster._host_for(self.mob_id)
            try:
                remaining = max(0.1, deadline - time.monotonic())
                info: HostInfo = ray.get(host.where.remote(), timeout=min(remaining, self._cluster.call_timeout_s))
                if info.open_s is not None:
                    return info
                last = info.waiting_for or "starting"
                time.sleep(RETRY_PAUSE_S)
            except (RayActorError, GetTimeoutError) as e:
                last = f"{type(e).__name__}: {e}"
                if isinstance(e, RayActorError):
                    self._host_down(e)
            if time.monotonic() >= deadline:
                what = f"; {interrupted}() was interrupted and may or may not have been applied" if interrupted else ""
                raise MobUnavailable(
                    f"mob {self.mob_id!r} has had no serving host for {self._cluster.failover_timeout_s}s{what} "
                    f"(last: {last}); its host may still be restarting or waiting for the journal: try again later"
                )

    # -- queries -----------------------------------------------------------------------------

    def status(self) -> MobStatus:
        return self._call("status")  # type: ignore[no-any-return]

    def state(self) -> MobState:
        """The mob's folded state: definition, status, roster, epoch."""
        return self._call("state")  # type: ignore[no-any-return]

    def definition(self) -> MobDefinition:
        return self._call("definition")  # type: ignore[no-any-return]

    def members(self) -> list[Member]:
        return self._call("members")  # type: ignore[no-any-return]

    def member(self, member_id: str) -> Member:
        return self._call("member", member_id)  # type: ignore[no-any-return]

    def events(self) -> list[journal.RecordedEvent]:
        """The mob's own event history (empty once destroyed)."""
        return self._call("events")  # type: ignore[no-any-return]

    # -- turns -------------------------------------------------------------------------------

    def turn(self, member_id: str, prompt: str, *, request_id: str | None = None) -> RunResult:
        """Run a turn of a member's session, exactly once (durable when it returns).

        ``request_id`` (a new one if not given) makes a repeat harmless: after a failover the
        handle asks again with it, and a committed turn returns its stored result.
        """
        return self._call("turn", member_id, prompt, request_id=request_id or new_id())  # type: ignore[no-any-return]

    # -- commands (checked against the new host's state after a failover) --------------------

    def spawn(self, member_id: str, profile: str, *, initial_prompt: str | None = None, labels: dict[str, Any] | None = None) -> Member:
        """Add a member with a new session bound to this mob; run ``initial_prompt`` as its first turn."""
        member: Member = self._call("spawn", member_id, profile, labels=labels, check=lambda: self._has_member(member_id))
        if initial_prompt is not None:
            self.turn(member_id, initial_prompt)
        return member

    def _has_member(self, member_id: str) -> tuple[bool, Member | None]:
        found = [m for m in self.members() if m.member_id == member_id]
        return (True, found[0]) if found else (False, None)

    def retire(self, member_id: str) -> None:
        self._call("retire", member_id, check=lambda: (not self._has_member(member_id)[0], None))

    def wire(self, a: str, b: str) -> None:
        self._call("wire", a, b, check=lambda: (self._wired(a, b), None))

    def unwire(self, a: str, b: str) -> None:
        self._call("unwire", a, b, check=lambda: (not self._wired(a, b), None))

    def _wired(self, a: str, b: str) -> bool:
        return any(m.member_id == a and b in m.wired_to for m in self.members())

    def stop(self) -> None:
        self._call("stop", check=self._status_is(MobStatus.STOPPED))

    def resume(self) -> None:
        self._call("resume", check=self._status_is(MobStatus.RUNNING))

    def complete(self) -> None:
        self._call("complete", check=self._status_is(MobStatus.COMPLETED))

    def _status_is(self, wanted: MobStatus) -> Check:
        return lambda: (self.status() is wanted, None)

    def reset(self) -> None:
        epoch = self.state().epoch
        self._call("reset", check=lambda: (self.state().epoch > epoch, None))

    def destroy(self) -> None:
        self._call("destroy", check=lambda: (self.mob_id not in self._cluster._hosted_ids(self.mob_id), None))
        self._cluster._destroyed(self.mob_id)
