"""``MobRuntime``: the entry point a host embeds to run durable mobs of agent sessions."""

from __future__ import annotations

import logging
import os
from typing import Any

import journal
import pykka

from ..core import events as ev
from ..core.errors import MobError
from ..core.mob import Member, MobDefinition, MobState, MobStatus, fold_mob
from ..core.model import RunResult, StartTurnRequest
from ..sessions.service import PersistentSessionService, SessionService
from .supervisor import MobSupervisor, check_persistent

log = logging.getLogger(__name__)
ASK_TIMEOUT_S = 120.0  # a supervisor call waits at most this long (it may archive many sessions)


class MobHandle:
    """Operations on one mob. Calls go to the mob's supervisor actor; turns run on the caller's thread."""

    def __init__(self, runtime: MobRuntime, mob_id: str, supervisor: pykka.ActorProxy[MobSupervisor]) -> None:
        self._runtime = runtime
        self.mob_id = mob_id
        self._sup = supervisor

    def __repr__(self) -> str:
        return f"<MobHandle {self.mob_id!r}>"

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._sup, method)(*args).get(timeout=ASK_TIMEOUT_S)
        except pykka.ActorDeadError:
            raise MobError(f"mob {self.mob_id!r} is no longer running (destroyed, or the runtime was closed)") from None

    def status(self) -> MobStatus:
        return self._call("status")

    def definition(self) -> MobDefinition:
        state: MobState = self._call("mob_state")
        assert state.definition is not None
        return state.definition

    def members(self) -> list[Member]:
        return self._call("members")

    def member(self, member_id: str) -> Member:
        for m in self.members():
            if m.member_id == member_id:
                return m
        raise MobError(f"mob {self.mob_id!r} has no member {member_id!r}")

    def spawn(self, member_id: str, profile: str, *, initial_prompt: str | None = None, labels: dict | None = None) -> Member:
        """Add a member with a new session bound to this mob; run ``initial_prompt`` as its first turn."""
        member: Member = self._call("spawn", member_id, profile, labels)
        if initial_prompt is not None:
            self.turn(member_id, initial_prompt)
        return member

    def retire(self, member_id: str) -> None:
        self._call("retire", member_id)

    def wire(self, a: str, b: str) -> None:
        self._call("wire", a, b)

    def unwire(self, a: str, b: str) -> None:
        self._call("unwire", a, b)

    def turn(self, member_id: str, prompt: str) -> RunResult:
        """Run a turn of a member's session (durable when it returns)."""
        session_id, admissions = self._call("admit_turn", member_id)
        try:
            return self._runtime.service.start_turn(session_id, StartTurnRequest(prompt))
        finally:
            admissions.done()

    def stop(self) -> None:
        self._call("stop")

    def resume(self) -> None:
        self._call("resume", self._runtime.allow_ephemeral_sessions)

    def complete(self) -> None:
        self._call("complete")

    def reset(self) -> None:
        self._call("reset")

    def destroy(self) -> None:
        self._call("destroy")
        self._runtime._forget(self.mob_id)

    def events(self) -> list[journal.RecordedEvent]:
        """The mob's own event history (empty once destroyed)."""
        return list(self._runtime.journal.read(ev.mob_stream(self.mob_id)))


class MobRuntime:
    """Durable mobs over a session service. Open it with :meth:`open`; close it (or use ``with``)."""

    def __init__(self, j: journal.Journal, service: SessionService, *, allow_ephemeral_sessions: bool, owns: tuple[bool, bool]) -> None:
        self.journal = j
        self.service = service
        self.allow_ephemeral_sessions = allow_ephemeral_sessions
        self._owns_journal, self._owns_service = owns
        self._mobs: dict[str, MobHandle] = {}
        self._unresumable: dict[str, str] = {}
        self._closed = False
        service.add_failure_listener(self._session_failed)

    @classmethod
    def open(
        cls,
        path_or_journal: journal.Journal | str | os.PathLike[str],
        agent: Any,
        *,
        allow_ephemeral_sessions: bool = False,
        session_service: SessionService | None = None,
    ) -> MobRuntime:
        """Open (or create) the journal and bring every mob back in the state it had."""
        if isinstance(path_or_journal, journal.Journal):
            j, owns_journal = path_or_journal, False
        elif isinstance(session_service, PersistentSessionService) and _same_dir(session_service.journal.path, path_or_journal):
            # The service already has this journal open; a second writer in one process is refused.
            j, owns_journal = session_service.journal, False
        else:
            j, owns_journal = journal.open(path_or_journal), True
        owns_service = session_service is None
        service = session_service if session_service is not None else PersistentSessionService(j, agent)
        runtime = cls(j, service, allow_ephemeral_sessions=allow_ephemeral_sessions, owns=(owns_journal, owns_service))
        try:
            runtime._resume_all()
        except BaseException:
            runtime.close()
            raise
        return runtime

    def _resume_all(self) -> None:
        for info in self.journal.streams(ev.MOB_STREAM_PREFIX):
            mob_id = info.stream_id[len(ev.MOB_STREAM_PREFIX):]
            try:
                history = list(self.journal.read(info.stream_id))
            except journal.JournalError as e:
                self._unresumable[mob_id] = f"cannot read its events: {e}"
                log.error("mob %s cannot be resumed: %s", mob_id, e)
                continue
            if not history:
                continue  # destroyed: its events were deleted
            state = fold_mob(mob_id, history)
            if state.status is MobStatus.DESTROYED:
                continue
            if state.definition is None:
                self._unresumable[mob_id] = "no mob_created event found in the journal"
                log.error("mob %s cannot be resumed: no mob_created event", mob_id)
                continue
            check_persistent(self.service, self.allow_ephemeral_sessions)
            handle = self._start(state, info.highest_seq)
            if state.status in (MobStatus.RUNNING, MobStatus.STOPPED):
                handle._call("reconcile")
            if state.status is MobStatus.STOPPED:
                handle._call("cancel_checkpointers")  # only the sessions bound to this mob

    def _start(self, state: MobState, stream_seq: int) -> MobHandle:
        ref = MobSupervisor.start(state, self.journal, self.service, stream_seq)
        handle = MobHandle(self, state.mob_id, ref.proxy())
        self._mobs[state.mob_id] = handle
        self.service.set_mob_resolver(state.mob_id, lambda sid, h=handle: h._call("belongs", sid))
        return handle

    def create_mob(self, definition: MobDefinition) -> MobHandle:
        """Record a new mob (running, no members yet) and start its supervisor."""
        self._check_open()
        check_persistent(self.service, self.allow_ephemeral_sessions)
        mob_id = definition.mob_id
        if mob_id in self._mobs:
            raise MobError(f"mob {mob_id!r} already exists; use runtime.mob({mob_id!r})")
        stream = ev.mob_stream(mob_id)
        previous = self.journal.highest_seq(stream)  # a destroyed mob leaves its seq behind
        if mob_id in self._unresumable:
            raise MobError(f"mob {mob_id!r} exists in the journal but cannot be resumed: {self._unresumable[mob_id]}")
        event = ev.MOB_CREATED(definition=definition.to_dict(), at_ms=ev.now_ms())
        try:
            result = self.journal.append(stream, [event], expected_seq=previous)
        except journal.JournalError as e:
            raise MobError(f"cannot create mob {mob_id!r}: {e}") from e
        return self._start(fold_mob(mob_id, [event]), result.last_seq)

    def mob(self, mob_id: str) -> MobHandle:
        self._check_open()
        handle = self._mobs.get(mob_id)
        if handle is None:
            if mob_id in self._unresumable:
                raise MobError(f"cannot resume mob {mob_id!r}: {self._unresumable[mob_id]}")
            raise MobError(f"no mob {mob_id!r} (known: {sorted(self._mobs)})")
        return handle

    def list_mobs(self) -> list[MobHandle]:
        return [self._mobs[m] for m in sorted(self._mobs)]

    def _forget(self, mob_id: str) -> None:
        handle = self._mobs.pop(mob_id, None)
        self.service.set_mob_resolver(mob_id, None)
        if handle is not None:
            handle._sup.actor_ref.stop(block=True)

    def _session_failed(self, session_id: str, error: BaseException) -> None:
        for handle in list(self._mobs.values()):
            # Not waited for: this runs on the dying session actor's thread.
            handle._sup.member_crashed(session_id, repr(error))

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


def _same_dir(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)
