"""``MobRuntime``: the entry point a host embeds to run durable mobs of agent sessions.

Several hosts may share one PostgreSQL journal: each mob is served by one host at a time, the
one holding its ownership lock (``journal.try_lock("mob:<id>")``, an advisory lock on the
connection that host writes with). A host that dies loses its locks with its connection; the
next host asking for the mob takes it over and reconciles it by replay, as ``open`` does. On
LMDB the one writing process owns every mob.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import journal

from ..contract import MobSessionPort
from ..core import events as ev
from ..core import mob_decide as rules
from ..core.errors import CorruptMobEvent, MobError, MobOwnedElsewhere, SessionError
from ..core.ids import new_id
from ..core.mob import Member, MobDefinition, MobState, MobStatus, fold_mob
from ..core.model import Agent, MobBinding, RunApplyBoundary, RunResult, StartTurnRequest
from ..sessions.service import PersistentSessionService, result_of
from ..sessions.turn import check_agent
from .link import ASK_TIMEOUT_S as ASK_TIMEOUT_S
from .link import SupervisorLink
from .supervisor import MobSupervisor, check_persistent

log = logging.getLogger(__name__)

TAKEOVER_POLL_S = 0.02  # how often runtime.mob(id, wait=...) asks for an owned mob's lock


def mob_lock(mob_id: str) -> str:
    """The journal ownership lock of a mob."""
    return f"mob:{mob_id}"


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


class MobRuntime:
    """Durable mobs over a session service. Open it with :meth:`open`; close it (or use ``with``)."""

    def __init__(self, j: journal.EventJournal, service: MobSessionPort, *, allow_ephemeral_sessions: bool, owns: tuple[bool, bool]) -> None:
        self.journal = j
        self.service = service
        self.allow_ephemeral_sessions = allow_ephemeral_sessions
        self._owns_journal, self._owns_service = owns
        self._mobs: dict[str, MobHandle] = {}
        self._supervisors: dict[str, SupervisorLink] = {}
        self._unresumable: dict[str, str] = {}
        self._elsewhere: set[str] = set()  # mobs found in the journal that another host serves
        self._closed = False
        service.add_failure_listener(self._session_failed)

    @classmethod
    def open(
        cls,
        path_or_journal: journal.EventJournal | str | os.PathLike[str],
        agent: Agent,
        *,
        allow_ephemeral_sessions: bool = False,
        session_service: MobSessionPort | None = None,
        mobs: Iterable[str] | None = None,
    ) -> MobRuntime:
        """Open (or create) the journal and bring back every mob nobody else serves, in the state it had.

        ``mobs``: bring back only these (a host that serves one mob of a shared journal); the
        others stay for their hosts, and :meth:`mob` still takes one over when asked.

        ``path_or_journal``: a directory (LMDB), a ``postgresql://`` URL, or an open journal. On a
        shared database, mobs another host owns are left to it (:meth:`mob` takes them over once
        their owner is gone). ``agent`` must have a callable ``run_turn`` (refused with
        ``InvalidRequest`` before anything is opened).
        """
        check_agent(agent)
        if isinstance(path_or_journal, journal.EventJournal):
            j, owns_journal = path_or_journal, False
        elif isinstance(session_service, PersistentSessionService) and _same_place(session_service.journal, path_or_journal):
            # The service already has this journal open; a second writer in one process is refused.
            j, owns_journal = session_service.journal, False
        else:
            j, owns_journal = journal.open(path_or_journal), True
        owns_service = session_service is None
        service = session_service if session_service is not None else PersistentSessionService(j, agent)
        runtime = cls(j, service, allow_ephemeral_sessions=allow_ephemeral_sessions, owns=(owns_journal, owns_service))
        try:
            runtime._resume_all(None if mobs is None else frozenset(mobs))
        except BaseException:
            runtime.close()
            raise
        return runtime

    def _resume_all(self, only: frozenset[str] | None) -> None:
        for info in self.journal.streams(ev.MOB_STREAM_PREFIX):
            mob_id = info.stream_id[len(ev.MOB_STREAM_PREFIX):]
            if only is not None and mob_id not in only:
                continue
            try:
                history = list(self.journal.read(info.stream_id))
            except journal.JournalError as e:
                self._unresumable[mob_id] = f"cannot read its events: {e}"
                log.error("mob %s cannot be resumed: %s", mob_id, e)
                continue
            if not history:
                continue  # destroyed: its events were deleted
            try:
                state = fold_mob(mob_id, history)
            except CorruptMobEvent as e:
                # One damaged mob stays closed (runtime.mob() says why); the others open.
                self._unresumable[mob_id] = str(e)
                log.error("mob %s cannot be resumed: %s", mob_id, e)
                continue
            if state.status is MobStatus.DESTROYED:
                continue
            if state.definition is None:
                self._unresumable[mob_id] = "no mob_created event found in the journal"
                log.error("mob %s cannot be resumed: no mob_created event", mob_id)
                continue
            check_persistent(self.service, self.allow_ephemeral_sessions)
            if not self.journal.try_lock(mob_lock(mob_id)):
                self._elsewhere.add(mob_id)  # another host serves it; mob() takes it over later
                continue
            try:
                self._recover(mob_id)
            except (MobError, SessionError) as e:
                self._unresumable[mob_id] = f"restoring it failed: {e}"
                log.error("mob %s cannot be resumed: %s", mob_id, e)

    def _recover(self, mob_id: str) -> MobHandle | None:
        """With the mob's lock held: read its events again (now that no one else writes them), start
        its supervisor and reconcile its members. None (and the lock given back) if there is no mob.
        A failure stops the supervisor again and gives the lock back."""
        try:
            history = list(self.journal.read(ev.mob_stream(mob_id)))
            state = fold_mob(mob_id, history)
            if not history or state.status is MobStatus.DESTROYED or state.definition is None:
                self.journal.unlock(mob_lock(mob_id))
                return None
            self._elsewhere.discard(mob_id)
            self._start(state, history[-1].seq).ask(MobSupervisor.recover)
            return self._mobs[mob_id]
        except BaseException:
            self._forget(mob_id)
            raise

    def _start(self, state: MobState, stream_seq: int) -> SupervisorLink:
        mob_id = state.mob_id
        link = SupervisorLink(mob_id, MobSupervisor.start(state, self.journal, self.service, stream_seq))
        self._supervisors[mob_id] = link
        self._mobs[mob_id] = MobHandle(self, mob_id, link, self._forget)

        def belongs(session_id: str) -> bool:
            return link.ask(MobSupervisor.belongs, session_id)

        self.service.set_mob_resolver(mob_id, belongs)
        return link

    def create_mob(self, definition: MobDefinition) -> MobHandle:
        """Record a new mob (running, no members yet) and start its supervisor."""
        self._check_open()
        if not isinstance(definition, MobDefinition):
            raise MobError(f"create_mob expects a MobDefinition, got {type(definition).__name__}")
        check_persistent(self.service, self.allow_ephemeral_sessions)
        mob_id = definition.mob_id
        if mob_id in self._mobs:
            raise MobError(f"mob {mob_id!r} already exists; use runtime.mob({mob_id!r})")
        stream = ev.mob_stream(mob_id)
        if mob_id in self._unresumable:
            raise MobError(f"mob {mob_id!r} exists in the journal but cannot be resumed: {self._unresumable[mob_id]}")
        if not self.journal.try_lock(mob_lock(mob_id)):
            raise MobOwnedElsewhere(mob_id, self.journal.lock_owner(mob_lock(mob_id)))
        # Read under the lock: another host may have created (or destroyed) it since this one opened.
        history = list(self.journal.read(stream))
        if history and fold_mob(mob_id, history).status is not MobStatus.DESTROYED:
            self.journal.unlock(mob_lock(mob_id))
            raise MobError(f"mob {mob_id!r} already exists; use runtime.mob({mob_id!r})")
        previous = self.journal.highest_seq(stream)  # a destroyed mob leaves its seq behind
        events = rules.decide(MobState(mob_id), rules.Create(definition, ev.now_ms()))
        try:
            result = self.journal.append(stream, events, expected_seq=previous)
        except journal.JournalError as e:
            self.journal.unlock(mob_lock(mob_id))
            if isinstance(e, journal.WrongExpectedVersion):
                raise MobError(f"mob {mob_id!r} already exists (another host created it); use runtime.mob({mob_id!r})") from e
            raise MobError(f"cannot create mob {mob_id!r}: {e}") from e
        self._start(fold_mob(mob_id, events), result.last_seq)
        return self._mobs[mob_id]

    def fork_mob(self, source_mob_id: str, new_mob_id: str, *, at_position: int | None = None) -> MobHandle:
        """Fork mob ``source_mob_id`` (running or not) as it was at journal position ``at_position``
        (default: the journal's head now) into a new running mob ``new_mob_id``.

        One consistent point: the roster and wiring are the mob's events up to that position, and
        each member's session is forked at its last event at or before it (``fork_session``,
        lineage recorded). The new mob's stream starts with ``mob_created`` and ``mob_forked``
        (the lineage), then a ``member_spawned`` per member and its wires, in one write.
        """
        self._check_open()
        check_persistent(self.service, self.allow_ephemeral_sessions)
        if not isinstance(new_mob_id, str) or new_mob_id in self._mobs or new_mob_id in self._unresumable:
            raise MobError(f"mob {new_mob_id!r} already exists (or is no mob id); fork into a new mob id")
        head = self.journal.head()
        position = head if at_position is None else at_position
        if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= head:
            raise MobError(f"at_position must be a journal position from 1 to {head} (the head), got {at_position!r}")
        source = fold_mob(source_mob_id, [e for e in self.journal.read(ev.mob_stream(source_mob_id)) if e.position <= position])
        if source.definition is None or source.status is MobStatus.DESTROYED:
            raise MobError(f"mob {source_mob_id!r} did not exist at journal position {position}; nothing to fork")
        sessions: dict[str, tuple[str, str, int]] = {}
        for member_id, entry in source.roster.items():
            seq = max((e.seq for e in self.journal.read(ev.session_stream(entry.session_id)) if e.position <= position), default=0)
            if seq == 0:
                raise MobError(f"member {member_id!r} of mob {source_mob_id!r} has no session events at position {position}")
            sessions[member_id] = (new_id(), entry.session_id, seq)
        events = rules.decide(MobState(new_mob_id), rules.Fork(source, position, sessions, ev.now_ms()))
        stream = ev.mob_stream(new_mob_id)
        if not self.journal.try_lock(mob_lock(new_mob_id)):
            raise MobOwnedElsewhere(new_mob_id, self.journal.lock_owner(mob_lock(new_mob_id)))
        forked: list[str] = []
        try:
            history = list(self.journal.read(stream))
            if history and fold_mob(new_mob_id, history).status is not MobStatus.DESTROYED:
                raise MobError(f"mob {new_mob_id!r} already exists; fork into a new mob id")
            previous = self.journal.highest_seq(stream)  # a destroyed mob leaves its seq behind
            for member_id, (fork_id, source_session, seq) in sessions.items():
                entry = source.roster[member_id]
                self.service.fork_session(
                    source_session, at_seq=seq, new_session_id=fork_id,
                    binding=MobBinding(new_mob_id, entry.profile, member_id), labels=rules.fork_labels(entry, new_mob_id),
                )
                forked.append(fork_id)
            result = self.journal.append(stream, events, expected_seq=previous)
        except BaseException as e:
            self.journal.unlock(mob_lock(new_mob_id))
            for fork_id in forked:  # no mob was recorded: leave no orphan behind
                try:
                    self.service.archive(fork_id)
                except Exception:
                    log.warning("could not archive session %s of the failed fork of mob %s", fork_id, source_mob_id, exc_info=True)
            if isinstance(e, journal.JournalError):
                raise MobError(f"cannot fork mob {source_mob_id!r} into {new_mob_id!r}: {e}") from e
            raise
        self._start(fold_mob(new_mob_id, events), result.last_seq)
        return self._mobs[new_mob_id]

    def mob(self, mob_id: str, *, wait: float | None = None) -> MobHandle:
        """The handle of a running mob; raises :class:`MobError` saying why there is none.

        A mob in the journal that this runtime does not serve yet is taken over if nobody owns it
        (its owner died, or it never had one here): its supervisor starts and its members are
        reconciled by replay. One another host serves raises :class:`MobOwnedElsewhere` naming
        that host, or, with ``wait`` (seconds), is taken over as soon as its owner is gone.
        """
        self._check_open()
        handle = self._mobs.get(mob_id)
        if handle is not None and self.journal.holds_lock(mob_lock(mob_id)):
            return handle
        if handle is not None:
            self._forget(mob_id)  # its ownership was lost with the connection: take it again if free
        if mob_id in self._unresumable:
            raise MobError(f"cannot resume mob {mob_id!r}: {self._unresumable[mob_id]}")
        deadline = time.monotonic() + (wait or 0.0)
        while True:
            if self.journal.try_lock(mob_lock(mob_id)):
                taken = self._recover(mob_id)
                if taken is None:
                    raise MobError(f"no mob {mob_id!r} (known: {sorted(self._mobs)})")
                return taken
            if time.monotonic() >= deadline:
                raise MobOwnedElsewhere(mob_id, self.journal.lock_owner(mob_lock(mob_id)))
            time.sleep(TAKEOVER_POLL_S)

    def check_owned(self, mob_id: str) -> None:
        """Raise :class:`MobOwnedElsewhere` (and stop serving the mob) if this host lost its ownership
        lock, which happens with the connection it writes with; :meth:`mob` then takes it again if free."""
        if mob_id in self._mobs and not self.journal.holds_lock(mob_lock(mob_id)):
            self._forget(mob_id)
            raise MobOwnedElsewhere(mob_id, self.journal.lock_owner(mob_lock(mob_id)),
                                    lost="this host lost it with its connection to the journal")

    def list_mobs(self) -> list[MobHandle]:
        """The handles of every mob this runtime runs, by mob id (see :meth:`unresumable_mobs` and
        :meth:`served_elsewhere` for the others)."""
        self._check_open()
        return [self._mobs[m] for m in sorted(self._mobs)]

    def unresumable_mobs(self) -> dict[str, str]:
        """The mobs in the journal that this runtime could not bring back, each with the reason
        (damaged events, say); the other mobs run normally. :meth:`mob` raises that reason too."""
        self._check_open()
        return dict(self._unresumable)

    def served_elsewhere(self) -> list[str]:
        """Mobs found in the journal at open that another host was serving (see :meth:`mob`)."""
        return sorted(self._elsewhere - set(self._mobs))

    def _forget(self, mob_id: str) -> None:
        self._mobs.pop(mob_id, None)
        link = self._supervisors.pop(mob_id, None)
        self.service.set_mob_resolver(mob_id, None)
        if link is not None:
            link.stop()
        if not self.journal.closed:
            try:
                self.journal.unlock(mob_lock(mob_id))  # after the supervisor stopped: it wrote its last
            except journal.JournalError:
                log.warning("could not give up the ownership lock of mob %s", mob_id, exc_info=True)

    def _session_failed(self, session_id: str, error: BaseException) -> None:
        for link in list(self._supervisors.values()):
            # Not waited for: this runs on the dying session actor's thread.
            link.tell(MobSupervisor.member_crashed, session_id, repr(error))

    def _check_open(self) -> None:
        if self._closed:
            raise MobError("the mob runtime is closed; open it again")

    def close(self) -> None:
        """Stop every supervisor and (if this runtime made them) the service and journal."""
        if self._closed:
            return
        self._closed = True
        for mob_id in list(self._mobs):
            self._forget(mob_id)
        if self._owns_service:
            self.service.shutdown()
        if self._owns_journal:
            self.journal.close()

    def __enter__(self) -> MobRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _same_place(j: journal.EventJournal, location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names the journal ``j`` has open (a directory, or a database URL)."""
    url = getattr(j, "url", None)
    if url is not None or str(location).startswith(("postgresql://", "postgres://")):
        return url == str(location)
    return os.path.realpath(j.path) == os.path.realpath(location)
