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
from collections.abc import Iterable

import journal

from ..contract import MobSessionPort
from ..core import events as ev
from ..core import mob_decide as rules
from ..core.errors import CorruptMobEvent, MobError, MobOwnedElsewhere, SessionError
from ..core.mob import MobDefinition, MobState, MobStatus, fold_mob
from ..core.model import Agent
from ..sessions.service import PersistentSessionService
from ..sessions.turn import check_agent
from .forking import drop_forks, fork_members, plan_fork
from .handle import MobHandle as MobHandle
from .link import ASK_TIMEOUT_S as ASK_TIMEOUT_S
from .link import SupervisorLink
from .ownership import claim_new, same_place
from .ownership import mob_lock as mob_lock
from .supervisor import MobSupervisor, check_persistent

log = logging.getLogger(__name__)

TAKEOVER_POLL_S = 0.02  # how often runtime.mob(id, wait=...) asks for an owned mob's lock


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
        elif isinstance(session_service, PersistentSessionService) and same_place(session_service.journal, path_or_journal):
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
        if mob_id in self._unresumable:
            raise MobError(f"mob {mob_id!r} exists in the journal but cannot be resumed: {self._unresumable[mob_id]}")
        previous = claim_new(self.journal, mob_id, f"use runtime.mob({mob_id!r})")
        events = rules.decide(MobState(mob_id), rules.Create(definition, ev.now_ms()))
        try:
            result = self.journal.append(ev.mob_stream(mob_id), events, expected_seq=previous)
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
        plan = plan_fork(self.journal, source_mob_id, new_mob_id, at_position)
        previous = claim_new(self.journal, new_mob_id, "fork into a new mob id")
        forked: list[str] = []
        try:
            fork_members(self.service, plan, forked)
            result = self.journal.append(ev.mob_stream(new_mob_id), plan.events, expected_seq=previous)
        except BaseException as e:
            self.journal.unlock(mob_lock(new_mob_id))
            drop_forks(self.service, forked, source_mob_id)  # no mob was recorded: leave no orphan behind
            if isinstance(e, journal.JournalError):
                raise MobError(f"cannot fork mob {source_mob_id!r} into {new_mob_id!r}: {e}") from e
            raise
        self._start(fold_mob(new_mob_id, plan.events), result.last_seq)
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
