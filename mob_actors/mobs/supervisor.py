"""The mob supervisor: one pykka actor per mob, the only writer of the mob's stream.

It owns the roster (a fold over the mob's events, see :mod:`mob_actors.mob_state`), answers
``session_belongs_to_mob`` for its mob, restarts member session actors that crash (with
backoff; three failures within a minute mark the member BROKEN), and reconciles the live
sessions with the roster when the mob resumes or the runtime opens.

Member turns do not pass through here: the handle asks for the member's session id and runs the
turn on the caller's thread, so a long turn never blocks the mob's other operations.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time

import journal
import pykka

from ..core import events as ev
from ..core.errors import InvalidTransition, MobError, SessionError, SessionNotFound, SessionNotRunning
from ..core.mob import Member, MemberState, MobState, MobStatus, evolve_mob
from ..core.model import CreateSessionRequest, MobBinding
from ..sessions.service import SessionService

log = logging.getLogger(__name__)

MAX_FAILURES = 3
FAILURE_WINDOW_S = 60.0
BACKOFF_BASE_S = 0.05
STOP_WAIT_S = 30.0  # how long stop() waits for interrupted turns to end
PERSISTENT_CONTRACT = "session_service must satisfy persistent-session contract (REQ-MOB-030)"


class TurnAdmissions:
    """Member turns admitted by the supervisor and not finished yet (shared with the handles)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def admit(self) -> None:
        with self._cond:
            self._count += 1

    def done(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)


class MobSupervisor(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self, state: MobState, j: journal.Journal, service: SessionService, stream_seq: int) -> None:
        super().__init__()
        self.state = state
        self.journal = j
        self.service = service
        self.stream = ev.mob_stream(state.mob_id)
        self.stream_seq = stream_seq  # the stream's highest seq (deletions keep it)
        self.broken: dict[str, str] = {}
        self.retiring: set[str] = set()
        self.admissions = TurnAdmissions()
        self.foreign: set[str] = set()  # members whose session is bound to someone else: never touched
        self.failures: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    # -- queries -----------------------------------------------------------------------------

    def status(self) -> MobStatus:
        return self.state.status

    def mob_state(self) -> MobState:
        return self.state

    def members(self) -> list[Member]:
        return [self._member(m) for m in self.state.roster]

    def belongs(self, session_id: str) -> bool:
        """On the roster, or bound to this mob by its durable binding."""
        if any(e.session_id == session_id for m, e in self.state.roster.items() if m not in self.foreign):
            return True
        return self.service.binding_matches(session_id, self.state.mob_id)

    def admit_turn(self, member_id: str) -> tuple[str, TurnAdmissions]:
        """Admit a member turn: its session id, and the admissions to call ``done()`` on after it.

        ``stop()`` waits until every admitted turn is done, so no turn commits after the stop.
        """
        self._require(MobStatus.RUNNING, action="run a turn")
        entry = self._entry(member_id)
        if member_id in self.broken:
            raise MobError(f"member {member_id!r} of mob {self.state.mob_id!r} is broken: restore failed: {self.broken[member_id]}")
        self.admissions.admit()
        return entry.session_id, self.admissions

    # -- roster changes ----------------------------------------------------------------------

    def spawn(self, member_id: str, profile: str, labels: dict | None) -> Member:
        self._require(MobStatus.RUNNING, action="spawn")
        definition = self.state.definition
        assert definition is not None
        if not isinstance(member_id, str) or not member_id or "/" in member_id:
            raise MobError(f"member_id must be a non-empty string without '/', got {member_id!r}")
        if member_id in self.state.roster:
            raise MobError(f"mob {self.state.mob_id!r} already has a member {member_id!r}; retire it first")
        spec = definition.profiles.get(profile)
        if spec is None:
            raise MobError(f"mob {self.state.mob_id!r} has no profile {profile!r} (it has {sorted(definition.profiles)})")
        # Standard labels override the host's: they are how a session is recognised as a member.
        all_labels = {**(labels or {}), "mob_id": self.state.mob_id, "role": profile, "member_id": member_id}
        session = self.service.create_session(CreateSessionRequest(
            system_prompt=spec.system_prompt, metadata=dict(spec.metadata or {}), labels=all_labels,
            binding=MobBinding(self.state.mob_id, profile, member_id),
        ))
        now = ev.now_ms()
        events = [ev.MEMBER_SPAWNED(member_id=member_id, profile=profile, session_id=session.id, labels=all_labels, at_ms=now)]
        for a, b in definition.wiring:
            peer = b if a == member_id else a if b == member_id else None
            if peer is not None and peer in self.state.roster:
                events.append(ev.PEERS_WIRED(a=member_id, b=peer, at_ms=now))
        try:
            self._append(events)
        except MobError:
            self.service.archive(session.id)  # no member was recorded: do not leave an orphan behind
            raise
        self.broken.pop(member_id, None)
        self.failures.pop(member_id, None)
        return self._member(member_id)

    def retire(self, member_id: str) -> None:
        """Remove a member (idempotent; allowed while stopped). Its session is archived."""
        entry = self.state.roster.get(member_id)
        if entry is None:
            return
        self._append([ev.MEMBER_RETIRED(member_id=member_id, at_ms=ev.now_ms())])
        self.retiring.add(member_id)
        try:
            if member_id not in self.foreign:  # never end another mob's session
                self._end_session(entry.session_id)
        finally:
            self.foreign.discard(member_id)
            self.retiring.discard(member_id)
            self.broken.pop(member_id, None)
            self.failures.pop(member_id, None)

    def wire(self, a: str, b: str) -> None:
        self._check_pair(a, b)
        if b not in self.state.roster[a].wired_to:
            self._append([ev.PEERS_WIRED(a=a, b=b, at_ms=ev.now_ms())])

    def unwire(self, a: str, b: str) -> None:
        self._check_pair(a, b)
        if b in self.state.roster[a].wired_to:
            self._append([ev.PEERS_UNWIRED(a=a, b=b, at_ms=ev.now_ms())])

    # -- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Cancel checkpointers, interrupt running turns; sessions stay live."""
        if self.state.status is not MobStatus.RUNNING:
            raise InvalidTransition(self.state.status, MobStatus.STOPPED)
        ids = self._session_ids()
        self.service.cancel_checkpointers(ids)
        try:
            self._interrupt_admitted_turns(ids)
            self._append([ev.MOB_STOPPED(at_ms=ev.now_ms())])
        except BaseException:
            self.service.rearm_checkpointers(ids)  # the mob stays running, so must its checkpoints
            raise

    def resume(self, allow_ephemeral: bool) -> None:
        """Rearm checkpointers, reconcile, run again; on any failure the gates are cancelled again."""
        if self.state.status is not MobStatus.STOPPED:
            raise InvalidTransition(self.state.status, MobStatus.RUNNING)
        check_persistent(self.service, allow_ephemeral)
        self.service.rearm_checkpointers(self._session_ids())
        try:
            self.reconcile()
            self._append([ev.MOB_RESUMED(at_ms=ev.now_ms())])
        except BaseException:
            self.service.cancel_checkpointers(self._session_ids())
            raise

    def cancel_checkpointers(self) -> None:
        """Cancel the checkpointers of this mob's sessions (a stopped mob brought back by open)."""
        self.service.cancel_checkpointers(self._session_ids())

    def complete(self) -> None:
        if self.state.status not in (MobStatus.RUNNING, MobStatus.STOPPED):
            raise InvalidTransition(self.state.status, MobStatus.COMPLETED)
        self._retire_all()
        self._append([ev.MOB_COMPLETED(at_ms=ev.now_ms())])

    def reset(self) -> None:
        """Retire everyone and start a new epoch (``mob_created`` + ``mob_reset`` in one write)."""
        if self.state.status in (MobStatus.DESTROYED, MobStatus.CREATING):
            raise InvalidTransition(self.state.status, MobStatus.RUNNING, "reset")
        self._retire_all()
        assert self.state.definition is not None
        now = ev.now_ms()
        try:
            self._append([ev.MOB_CREATED(definition=self.state.definition.to_dict(), at_ms=now), ev.MOB_RESET(at_ms=now)])
        except MobError:
            # The members are gone but the new epoch did not start: leave the mob stopped.
            self.state = dataclasses.replace(self.state, status=MobStatus.STOPPED)
            raise

    def destroy(self) -> None:
        """Retire everyone, record the end, delete the mob's events."""
        if self.state.status is MobStatus.DESTROYED:
            raise InvalidTransition(self.state.status, MobStatus.DESTROYED)
        self._retire_all()
        self._append([ev.MOB_DESTROYED(at_ms=ev.now_ms())])
        try:
            self.journal.delete_to(self.stream, self.stream_seq)
        except journal.JournalError as e:
            raise MobError(f"mob {self.state.mob_id!r} is destroyed but deleting its events failed: {e}") from e

    # -- reconciliation ----------------------------------------------------------------------

    def reconcile(self) -> None:
        """Make the live sessions match the roster (see the module doc)."""
        mob_id = self.state.mob_id
        on_roster = {e.session_id for e in self.state.roster.values()}
        for session_id in self.service.live_session_ids():
            if session_id not in on_roster and self.service.binding_matches(session_id, mob_id):
                try:
                    self.service.archive(session_id)  # an orphan: bound to us, not a member
                except SessionNotFound:
                    pass
        for member_id, entry in self.state.roster.items():
            self.foreign.discard(member_id)
            if self.service.has_live_session(entry.session_id):
                # Live already (restored by another mob whose roster names it too?): still ours?
                error = self._binding_error(member_id, entry.session_id, entry.profile, self.service.read(entry.session_id).binding)
            else:
                error = self._restore(member_id, entry.session_id, entry.profile)
            if error is None:
                self.broken.pop(member_id, None)
            else:
                log.warning("mob %s: member %s is broken: %s", mob_id, member_id, error)
                self.broken[member_id] = error

    def _restore(self, member_id: str, session_id: str, profile: str) -> str | None:
        """Bring a member's session back from the journal (no agent call); the error, or None."""
        if not self.service.supports_persistent_sessions():
            return f"missing durable session for '{session_id}': the session service keeps no history"
        try:
            stored = self.service.load_persisted_session(session_id)
        except SessionError as e:
            return f"cannot load durable session '{session_id}': {e}"
        if stored is None:
            return f"missing durable session for '{session_id}'"
        error = self._binding_error(member_id, session_id, profile, stored.binding)
        if error is not None:
            return error
        try:
            self.service.create_session(CreateSessionRequest(session_id=session_id))
        except SessionError as e:
            return f"cannot revive session '{session_id}': {e}"
        return None

    def _binding_error(self, member_id: str, session_id: str, profile: str, binding: MobBinding | None) -> str | None:
        expected = MobBinding(self.state.mob_id, profile, member_id)
        if binding != expected:
            self.foreign.add(member_id)
            return f"persisted binding {binding} of session '{session_id}' does not match current mob identity {expected}"
        return None

    # -- supervision -------------------------------------------------------------------------

    def member_crashed(self, session_id: str, error: str) -> None:
        """A member's session actor died: restart it with backoff, or mark it BROKEN."""
        member_id = next((m for m, e in self.state.roster.items() if e.session_id == session_id), None)
        if member_id is None or member_id in self.broken:
            return
        now = time.monotonic()
        window = self.failures[member_id]
        window.append(now)
        while window and now - window[0] > FAILURE_WINDOW_S:
            window.popleft()
        if len(window) >= MAX_FAILURES:
            self.broken[member_id] = f"session actor crashed {len(window)} times within {FAILURE_WINDOW_S:.0f} s; last error: {error}"
            log.error("mob %s: member %s is broken: %s", self.state.mob_id, member_id, self.broken[member_id])
            return
        delay = BACKOFF_BASE_S * 2 ** (len(window) - 1)
        # The timer only sends a message; the restart itself runs on this actor's thread.
        timer = threading.Timer(delay, self.actor_ref.proxy().restart_member, args=(member_id,))
        timer.daemon = True
        timer.start()

    def restart_member(self, member_id: str) -> bool:
        """Rebuild a crashed member's session actor from the journal; a failure counts as a crash."""
        entry = self.state.roster.get(member_id)
        if entry is None or member_id in self.broken:
            return False
        try:
            self.service.restart_session(entry.session_id)
        except Exception as e:
            self.member_crashed(entry.session_id, repr(e))
            return False
        return True

    # -- internals ---------------------------------------------------------------------------

    def _append(self, events: list[journal.Event]) -> None:
        try:
            result = self.journal.append(self.stream, events, expected_seq=self.stream_seq)
        except journal.JournalError as e:
            raise MobError(f"mob {self.state.mob_id!r}: recording {[e_.type for e_ in events]} failed, nothing changed: {e}") from e
        for event in events:
            self.state = evolve_mob(self.state, event)
        self.stream_seq = result.last_seq

    def _require(self, status: MobStatus, action: str) -> None:
        if self.state.status is not status:
            raise InvalidTransition(self.state.status, status, f"cannot {action} while {self.state.status.value}")

    def _entry(self, member_id: str):  # noqa: ANN202 - RosterEntry
        entry = self.state.roster.get(member_id)
        if entry is None:
            raise MobError(f"mob {self.state.mob_id!r} has no member {member_id!r}")
        return entry

    def _check_pair(self, a: str, b: str) -> None:
        self._require(MobStatus.RUNNING, action="change wiring")
        if a == b:
            raise MobError(f"cannot wire member {a!r} to itself")
        for m in (a, b):
            self._entry(m)
            if m in self.broken:
                raise MobError(f"member {m!r} is broken: restore failed: {self.broken[m]}")

    def _session_ids(self) -> list[str]:
        """The members' sessions, except those bound to someone else (stop/resume never touch those)."""
        return [e.session_id for m, e in self.state.roster.items() if m not in self.foreign]

    def _member(self, member_id: str) -> Member:
        entry = self.state.roster[member_id]
        if member_id in self.broken:
            state = MemberState.BROKEN
        elif member_id in self.retiring:
            state = MemberState.RETIRING
        else:
            state = MemberState.ACTIVE
        # A wire to a broken peer is kept durably but not in effect until the peer is healthy again.
        wired = tuple(sorted(p for p in entry.wired_to if p not in self.broken))
        return Member(member_id, entry.profile, entry.session_id, state, self.broken.get(member_id), wired, dict(entry.labels))

    def _interrupt_admitted_turns(self, ids: list[str]) -> None:
        """Interrupt the members' turns until none admitted is left (one may start late: retry)."""
        deadline = time.monotonic() + STOP_WAIT_S
        while True:
            for session_id in ids:
                try:
                    self.service.interrupt(session_id)
                except (SessionNotRunning, SessionNotFound):
                    pass
            if self.admissions.wait_idle(0.02):
                return
            if time.monotonic() > deadline:
                raise MobError(f"mob {self.state.mob_id!r}: turns still running {STOP_WAIT_S:.0f} s after being interrupted")

    def _end_session(self, session_id: str) -> None:
        try:
            self.service.interrupt(session_id)
        except (SessionNotRunning, SessionNotFound):
            pass
        try:
            self.service.archive(session_id)
        except SessionNotFound:
            pass  # never restored (broken) or already archived

    def _retire_all(self) -> None:
        for member_id in list(self.state.roster):
            self.retire(member_id)


def check_persistent(service: SessionService, allow_ephemeral: bool) -> None:
    if not service.supports_persistent_sessions() and not allow_ephemeral:
        raise MobError(f"{PERSISTENT_CONTRACT}; pass allow_ephemeral_sessions=True to run mobs on memory-only sessions")
