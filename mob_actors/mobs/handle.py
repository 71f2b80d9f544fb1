"""``MobHandle``: the operations on one mob, as a host calls them.

Each call goes to the mob's supervisor actor (:mod:`.supervisor`, through :mod:`.link`); a
member's turn runs on the caller's thread through the runtime's session service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import journal

from ..core import events as ev
from ..core.errors import MobError
from ..core.mob import Member, MobDefinition, MobState, MobStatus
from ..core.model import RunApplyBoundary, RunResult, StartTurnRequest
from ..sessions.service import result_of
from .link import SupervisorLink
from .supervisor import MobSupervisor

if TYPE_CHECKING:
    from .runtime import MobRuntime


class MobHandle:
    """Operations on one mob. Calls go to the mob's supervisor actor; turns run on the caller's thread.

    Got from :meth:`MobRuntime.create_mob` or :meth:`MobRuntime.mob`. Every member is a session
    of the runtime's session service, bound to the mob (``Session.binding``). Which call each
    status allows is the table in :mod:`mob_actors.core.mob_decide`; a call the status refuses
    raises :class:`InvalidTransition` saying what to do instead. After :meth:`destroy` only
    :meth:`status` (``DESTROYED``) and :meth:`events` still answer; after the runtime is closed
    every call raises :class:`MobError`.
    """

    def __init__(self, runtime: MobRuntime, mob_id: str, supervisor: SupervisorLink, on_destroyed: Callable[[str], None]) -> None:
        self._runtime = runtime
        self.mob_id = mob_id
        self._sup = supervisor
        self._on_destroyed = on_destroyed

    def __repr__(self) -> str:
        return f"<MobHandle {self.mob_id!r}>"

    def status(self) -> MobStatus:
        """The mob's status: RUNNING, STOPPED, COMPLETED, or DESTROYED once :meth:`destroy` ran."""
        if self._sup.destroyed:
            return MobStatus.DESTROYED
        return self._sup.ask(MobSupervisor.status)

    def state(self) -> MobState:
        """The mob's folded state: definition, status, roster, epoch."""
        return self._sup.ask(MobSupervisor.mob_state)

    def definition(self) -> MobDefinition:
        """The mob's definition (its latest ``mob_created``): profiles and wiring."""
        state = self._sup.ask(MobSupervisor.mob_state)
        assert state.definition is not None
        return state.definition

    def members(self) -> list[Member]:
        """Every member with its runtime state (ACTIVE, RETIRING or BROKEN with the reason), in the order they joined."""
        return self._sup.ask(MobSupervisor.members)

    def member(self, member_id: str) -> Member:
        """One member; raises :class:`MobError` if the mob has no such member."""
        for m in self.members():
            if m.member_id == member_id:
                return m
        raise MobError(f"mob {self.mob_id!r} has no member {member_id!r}")

    def spawn(self, member_id: str, profile: str, *, initial_prompt: str | None = None, labels: dict[str, Any] | None = None) -> Member:
        """Add member ``member_id`` with a new session of ``profile`` (its system prompt and
        metadata), bound to this mob and labelled with ``labels`` plus ``mob_id``/``role``/``member_id``.

        The definition's wiring to members already there applies at once. ``initial_prompt`` runs
        as the member's first turn (see :meth:`turn`). Only while RUNNING; a member id in use
        must be retired first. Then: :meth:`turn`, :meth:`wire`, :meth:`retire`.
        """
        if initial_prompt is not None and not isinstance(initial_prompt, str):  # before the member exists
            raise MobError(f"initial_prompt must be a str or None, got {type(initial_prompt).__name__}")
        member = self._sup.ask(MobSupervisor.spawn, member_id, profile, labels)
        if initial_prompt is not None:
            self.turn(member_id, initial_prompt)
        return member

    def retire(self, member_id: str) -> None:
        """Remove a member from the roster (and its wires), then archive its session: its history
        stays readable, it is no longer live. Allowed in any status; a member that is gone is no
        error. The member id can then be spawned again, with a new session."""
        self._sup.ask(MobSupervisor.retire, member_id)

    def wire(self, a: str, b: str) -> None:
        """Wire two members to each other (symmetric, recorded once). Both must be members and not
        BROKEN; only while RUNNING. Undo it with :meth:`unwire`; retiring either end removes it."""
        self._sup.ask(MobSupervisor.wire, a, b)

    def unwire(self, a: str, b: str) -> None:
        """Remove the wire between two members (nothing is recorded if there is none); only while RUNNING."""
        self._sup.ask(MobSupervisor.unwire, a, b)

    def turn(self, member_id: str, prompt: str, *, request_id: str | None = None) -> RunResult:
        """Run one turn of a member's session through the agent and return its result once it is
        durable. Only while RUNNING and for a member that is not BROKEN; a stopped mob says to
        call :meth:`resume`. A turn running when :meth:`stop` is called is interrupted.

        With a ``request_id`` (it becomes the turn's run id) the turn is applied at most once: a
        repeat after a timeout or a host's failover returns the committed turn's result and does
        not run the agent again."""
        self._runtime.check_owned(self.mob_id)
        session_id, admissions = self._sup.ask(MobSupervisor.admit_turn, member_id)
        try:
            if request_id is None:
                return self._runtime.service.start_turn(session_id, StartTurnRequest(prompt))
            out = self._runtime.service.apply_runtime_turn(
                session_id, request_id, StartTurnRequest(prompt), RunApplyBoundary.IMMEDIATE, [], once=True
            )
            return result_of(out, session_id)
        finally:
            admissions.done()

    def stop(self) -> None:
        """Pause the mob: interrupt its running turns, cancel its members' checkpoints, and refuse
        turns, spawns and wiring until :meth:`resume`. The member sessions stay live and nothing
        is lost; a runtime opened later keeps the mob stopped. Then: :meth:`resume`,
        :meth:`complete`, :meth:`reset`, :meth:`destroy`."""
        self._sup.ask(MobSupervisor.stop)

    def resume(self) -> None:
        """Run a stopped mob again: rearm its checkpoints and reconcile its sessions with the
        roster first (missing members restored from the journal without an agent call, orphans
        archived, members that cannot be restored marked BROKEN). Only from STOPPED; a completed
        mob is started again with :meth:`reset` instead."""
        self._sup.ask(MobSupervisor.resume, self._runtime.allow_ephemeral_sessions)

    def complete(self) -> None:
        """Finish the mob: retire every member (each session archived, history kept) and mark it
        COMPLETED. From RUNNING or STOPPED. Then only :meth:`reset` (a new epoch),
        :meth:`destroy` or :meth:`retire` (a no-op) are allowed."""
        self._sup.ask(MobSupervisor.complete)

    def reset(self) -> None:
        """Start a new epoch: retire every member (sessions archived, history kept) and run again
        with the same definition and an empty roster. From RUNNING, STOPPED or COMPLETED; then
        spawn the new members. The earlier epochs stay in :meth:`events`."""
        self._sup.ask(MobSupervisor.reset)

    def destroy(self) -> None:
        """End the mob for good: retire every member (sessions archived, their history kept),
        record the end and delete the mob's own events. This handle then answers only
        :meth:`status` (DESTROYED); the mob id can be used for a new mob with ``create_mob``."""
        self._sup.ask(MobSupervisor.destroy)
        self._sup.destroyed = True
        self._on_destroyed(self.mob_id)

    def fork(self, new_mob_id: str, *, at_position: int | None = None) -> MobHandle:
        """A new mob, running, that is this one as it was at journal position ``at_position``
        (default: now): the same profiles, the roster and wiring as they were, and every member
        bound to a fork of its session at the last event of that session at or before the position.
        This mob is untouched. See :meth:`MobRuntime.fork_mob`."""
        return self._runtime.fork_mob(self.mob_id, new_mob_id, at_position=at_position)

    def events(self) -> list[journal.RecordedEvent]:
        """The mob's own event history, every epoch (empty once destroyed); sessions' events are in their own streams."""
        return list(self._runtime.journal.read(ev.mob_stream(self.mob_id)))
