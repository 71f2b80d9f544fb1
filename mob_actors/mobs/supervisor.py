"""The mob supervisor: one pykka actor per mob, the only writer of the mob's stream.

It performs the effects of the mob's commands: it asks :func:`~mob_actors.core.mob_decide.decide`
which events a command produces (which refuses what the rules forbid), creates, interrupts and
archives member sessions through the session port, appends the events and applies them with
:func:`~mob_actors.core.mob.evolve_mob`. It also answers ``session_belongs_to_mob`` for its mob,
restarts member session actors that crash (with backoff; three failures within a minute mark the
member BROKEN), and reconciles the live sessions with the roster when the mob resumes or the
runtime opens.

Member turns do not pass through here: the handle asks for the member's session id and runs the
turn on the caller's thread, so a long turn never blocks the mob's other operations.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time

import pykka

import journal

from ..contract import MobSessionPort
from ..core import events as ev
from ..core import mob_decide as rules
from ..core.errors import MobError, SessionError, SessionNotFound, SessionNotRunning
from ..core.ids import new_id
from ..core.mob import Member, MemberState, MobState, MobStatus, evolve_mob
from ..core.mob_decide import PERSISTENT_CONTRACT as PERSISTENT_CONTRACT
from ..core.model import MobBinding
from .admissions import TurnAdmissions

log = logging.getLogger(__name__)

MAX_FAILURES = 3
FAILURE_WINDOW_S = 60.0
BACKOFF_BASE_S = 0.05
STOP_WAIT_S = 30.0  # how long stop() waits for interrupted turns to end


class MobSupervisor(pykka.ThreadingActor):
    """The actor that owns one mob: its state, its stream, and its members' sessions.

    Started by :class:`~mob_actors.MobRuntime` and called only through a
    :class:`~mob_actors.mobs.link.SupervisorLink`; it stops when the mob is destroyed or the
    runtime closes.
    """

    use_daemon_thread = True

    def __init__(self, state: MobState, j: journal.EventJournal, service: MobSessionPort, stream_seq: int) -> None:
        super().__init__()
        self.state = state
        self.journal = j
        self.service = service
        self.stream = ev.mob_stream(state.mob_id)
        self.stream_seq = stream_seq  # the stream's highest seq (deletions keep it)
        # Runtime-only facts about members, kept beside the state (they are not events).
        self.broken: dict[str, str] = {}
        self.retiring: set[str] = set()
        self.foreign: set[str] = set()  # members whose session is bound to someone else: never touched
        self.failures: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.admissions = TurnAdmissions()

    # -- queries -----------------------------------------------------------------------------

    def status(self) -> MobStatus:
        """The mob's status."""
        return self.state.status

    def mob_state(self) -> MobState:
        """The mob's state as its events fold to."""
        return self.state

    def members(self) -> list[Member]:
        """Every member, with its runtime state."""
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
        session_id = rules.check_turn(self.state, member_id, self.broken)
        self.admissions.admit()
        return session_id, self.admissions

    # -- roster changes ----------------------------------------------------------------------

    def spawn(self, member_id: str, profile: str, labels: dict[str, object] | None) -> Member:
        """Add a member with a new session bound to this mob."""
        events = rules.decide(self.state, rules.Spawn(member_id, profile, new_id(), ev.now_ms(), labels))
        session = self.service.create_session(rules.member_session_request(self.state, events[0]))
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
        for event in rules.decide(self.state, rules.Retire(member_id, ev.now_ms())):
            self._retire(event)

    def wire(self, a: str, b: str) -> None:
        """Wire two members (nothing is recorded if they already are)."""
        self._append(rules.decide(self.state, rules.Wire(a, b, ev.now_ms()), self.broken))

    def unwire(self, a: str, b: str) -> None:
        """Remove the wire between two members (nothing is recorded if there is none)."""
        self._append(rules.decide(self.state, rules.Unwire(a, b, ev.now_ms()), self.broken))

    # -- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Cancel checkpointers, interrupt running turns; sessions stay live."""
        events = rules.decide(self.state, rules.Stop(ev.now_ms()))
        ids = self._session_ids()
        self.service.cancel_checkpointers(ids)
        try:
            self._interrupt_admitted_turns(ids)
            self._append(events)
        except BaseException:
            self.service.rearm_checkpointers(ids)  # the mob stays running, so must its checkpoints
            raise

    def resume(self, allow_ephemeral: bool) -> None:
        """Rearm checkpointers, reconcile, run again; on any failure the gates are cancelled again."""
        command = rules.Resume(ev.now_ms(), self.service.supports_persistent_sessions(), allow_ephemeral)
        events = rules.decide(self.state, command)
        self.service.rearm_checkpointers(self._session_ids())
        try:
            self.reconcile()
            self._append(events)
        except BaseException:
            self.service.cancel_checkpointers(self._session_ids())
            raise

    def recover(self) -> None:
        """Bring the mob back after the runtime opened: reconcile a running or stopped mob, and
        keep a stopped one's checkpointers cancelled (only the sessions bound to this mob)."""
        if self.state.status in (MobStatus.RUNNING, MobStatus.STOPPED):
            self.reconcile()
        if self.state.status is MobStatus.STOPPED:
            self.service.cancel_checkpointers(self._session_ids())

    def complete(self) -> None:
        """Retire every member and mark the mob completed."""
        self._append(self._retire_leading(rules.decide(self.state, rules.Complete(ev.now_ms()))))

    def reset(self) -> None:
        """Retire everyone and start a new epoch (``mob_created`` + ``mob_reset`` in one write)."""
        rest = self._retire_leading(rules.decide(self.state, rules.Reset(ev.now_ms())))
        try:
            self._append(rest)
        except MobError:
            # The members are gone but the new epoch did not start: leave the mob stopped.
            self.state = dataclasses.replace(self.state, status=MobStatus.STOPPED)
            raise

    def destroy(self) -> None:
        """Retire everyone, record the end, delete the mob's events."""
        self._append(self._retire_leading(rules.decide(self.state, rules.Destroy(ev.now_ms()))))
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
            # Restored, not revived: after a restart the session did not change, so nothing is recorded.
            self.service.restore_session(session_id)
        except SessionError as e:
            return f"cannot restore session '{session_id}': {e}"
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
        """Record decided events in one write, then apply them; nothing to record, nothing written."""
        if not events:
            return
        try:
            result = self.journal.append(self.stream, events, expected_seq=self.stream_seq)
        except journal.JournalError as e:
            raise MobError(f"mob {self.state.mob_id!r}: recording {[e_.type for e_ in events]} failed, nothing changed: {e}") from e
        for event in events:
            self.state = evolve_mob(self.state, event)
        self.stream_seq = result.last_seq

    def _retire(self, retired: journal.Event) -> None:
        """Record one decided ``member_retired``, then end that member's session.

        The roster removal is recorded first and stands even if archiving the session fails.
        """
        member_id = retired.data["member_id"]
        entry = self.state.roster[member_id]
        self._append([retired])
        self.retiring.add(member_id)
        try:
            if member_id not in self.foreign:  # never end another mob's session
                self._end_session(entry.session_id)
        finally:
            self.foreign.discard(member_id)
            self.retiring.discard(member_id)
            self.broken.pop(member_id, None)
            self.failures.pop(member_id, None)

    def _retire_leading(self, events: list[journal.Event]) -> list[journal.Event]:
        """Perform the ``member_retired`` events that a decision starts with; the rest to append."""
        n = 0
        while n < len(events) and events[n].type == ev.MEMBER_RETIRED.name:
            self._retire(events[n])
            n += 1
        return events[n:]

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


def check_persistent(service: MobSessionPort, allow_ephemeral: bool) -> None:
    """Refuse to run mobs on a service whose sessions do not survive a restart, unless allowed."""
    rules.require_persistent(service.supports_persistent_sessions(), allow_ephemeral)
