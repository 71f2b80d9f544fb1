"""Which sessions are live, and which of those have a running actor.

A live session (created or revived, not yet archived or discarded) is a :class:`LiveSession`.
Its actor may be stopped at any time when it is idle (passivated: at most ``max_resident``
actors run, least recently used go first) or may crash; the next access brings it back from
the store, invisibly to callers. :class:`Residency` owns that bookkeeping, and is the only
code that starts, stops or asks session actors.
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from ..core.errors import SessionError, SessionNotFound, StoreError
from ..core.state import SessionState
from .actor import ActorHooks, CheckpointGate, SessionActor
from .store import SessionStore
from .streams import EventHub


def check_max_resident(max_resident: int | None) -> int | None:
    """``max_resident`` if it is None or at least 1; else ``ValueError``."""
    if max_resident is not None and max_resident < 1:
        raise ValueError("max_resident must be >= 1 or None")
    return max_resident


@dataclass(eq=False)
class LiveSession:
    """A live session: its actor (None while passivated), the last published state, its stream."""

    id: str
    hub: EventHub
    gate: CheckpointGate = field(default_factory=CheckpointGate)
    turn_lock: threading.Lock = field(default_factory=threading.Lock)
    cancel: threading.Event | None = None  # the running turn's, set by interrupt()
    actor: pykka.ActorRef[SessionActor] | None = None
    stopping: pykka.Future[Any] | None = None
    view: SessionState | None = None  # a reader copy; None while passivated
    closing: bool = False  # its last event (archive/discard) is being written: never respawn it


class Residency:
    """The live sessions of a service and their actors; at most ``max_resident`` actors run.

    ``on_publish`` gets every state an actor publishes (after its events are durable);
    ``on_failure`` is told when an actor dies outside any caller's request.
    """

    def __init__(
        self, store: SessionStore, *, max_resident: int | None,
        on_publish: Callable[[SessionState], None], on_failure: Callable[[str, BaseException], None],
        not_live: Callable[[str], SessionError] | None = None,
    ) -> None:
        self._store = store
        self._not_live = not_live  # the error for a session that is not live (the service says why)
        self._max_resident = check_max_resident(max_resident)
        self._on_publish = on_publish
        self._on_failure = on_failure
        self.lock = threading.RLock()  # guards the two maps; held to check-then-add a session
        self._live: dict[str, LiveSession] = {}
        self._resident: collections.OrderedDict[str, None] = collections.OrderedDict()  # LRU order

    # -- the live set ------------------------------------------------------------------------

    def get(self, session_id: str) -> LiveSession | None:
        """The live session, or None."""
        return self._live.get(session_id)

    def require(self, session_id: str) -> LiveSession:
        """The live session, or ``SessionNotFound`` (saying why, when the service can tell)."""
        live = self._live.get(session_id)
        if live is None:
            if self._not_live is not None:
                raise self._not_live(session_id)
            raise SessionNotFound(session_id, "it is not live (unknown, archived or discarded)")
        return live

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._live

    def ids(self) -> list[str]:
        """Every live session (resident or passivated)."""
        return list(self._live)

    def add(self, state: SessionState) -> LiveSession:
        """Make ``state`` live with a new actor (hold :attr:`lock` when checking it was not live)."""
        mob_id = state.binding.mob_id if state.binding else None
        live = LiveSession(state.id, EventHub(state.id, mob_id))
        live.view = state.reader_copy()
        with self.lock:
            self._live[state.id] = live
            self._spawn(live, state)
        return live

    def _forget(self, live: LiveSession) -> SessionState | None:
        """No longer live (its actor stopped itself after its last event); returns its last view."""
        with self.lock:
            self._live.pop(live.id, None)
            self._resident.pop(live.id, None)
            live.actor = None
        live.hub.close()
        return live.view

    def close(self) -> None:
        """Stop every actor and end every stream (shutdown; nothing is lost)."""
        with self.lock:
            lives = list(self._live.values())
            self._live.clear()
            self._resident.clear()
        for live in lives:
            if live.actor is not None:
                try:
                    live.actor.stop(block=True, timeout=10)
                except pykka.ActorDeadError:
                    pass
            live.hub.close()

    # -- reaching the actor ------------------------------------------------------------------

    def current(self, live: LiveSession) -> SessionState:
        """The live session's state, bringing its actor back if it was passivated or crashed."""
        # The common case without the lock: every turn passes here (twice), and under the GIL a
        # lock contended by a hundred client threads costs more than the turn itself.
        actor, view = live.actor, live.view
        if actor is not None and view is not None and actor.is_alive():
            try:
                self._resident.move_to_end(live.id)
            except KeyError:
                pass  # passivated meanwhile: the view is still a durable state; an ask retries
            return view
        with self.lock:
            if live.actor is not None and live.actor.is_alive():
                self._resident.move_to_end(live.id)
                assert live.view is not None
                return live.view
            if live.closing or self._live.get(live.id) is not live:
                # archived, discarded or shut down meanwhile: never bring back an orphan actor
                raise SessionNotFound(live.id, "it is no longer live")
            if live.stopping is not None:
                live.stopping.get()  # the old actor must be gone before a new one writes
                live.stopping = None
            state = self._store.rebuild(live.id, live.view)
            if state is None:
                raise SessionNotFound(live.id, "its state is lost (the ephemeral actor died)")
            live.view = state.reader_copy()
            self._spawn(live, state)
            return live.view

    def ask(self, live: LiveSession, message: Any) -> Any:
        """Ask the session's actor; a passivated or crashed actor is brought back once."""
        self.current(live)
        actor = live.actor
        try:
            if actor is None:  # passivated by another thread since current(): not a failure
                raise pykka.ActorDeadError(f"session {live.id} was passivated")
            return actor.ask(message)
        except pykka.ActorDeadError:
            self.current(live)
            assert live.actor is not None
            return live.actor.ask(message)
        except StoreError:
            # The write may not have happened: drop the in-memory state; the next access rebuilds
            # the last durable one.
            with self.lock:
                self._passivate(live)
            raise
        except SessionError:
            raise
        except Exception as e:
            raise StoreError(
                f"session {live.id}: the session actor failed: {e!r}; it will be rebuilt from the journal", session_id=live.id
            ) from e

    def retire(self, live: LiveSession, last: Any, *, close_gate: bool) -> SessionState | None:
        """Ask for the session's last event (archive or discard), then forget it; returns its last view.

        A running turn finishes first. With ``close_gate`` no snapshot is written from then on
        (one in flight completes first); if the last event fails, the gate is as it was.
        """
        with live.turn_lock:
            if not close_gate:
                self._ask_last(live, last)
            else:
                with live.gate.lock:  # waits for a snapshot write in flight; none starts after this
                    was_cancelled, live.gate.cancelled = live.gate.cancelled, True
                # Not under the gate lock: a Checkpoint queued before the archive needs it to see the
                # cancel (holding it across the ask deadlocked the actor on that Checkpoint).
                try:
                    self._ask_last(live, last)
                except BaseException:
                    with live.gate.lock:
                        live.gate.cancelled = was_cancelled
                    raise
        return self._forget(live)

    def set_gates(self, session_ids: list[str], *, cancelled: bool) -> None:
        """Cancel or re-arm the checkpoint gates of these live sessions (unknown ids are skipped)."""
        for session_id in session_ids:
            live = self._live.get(session_id)
            if live is not None:
                with live.gate.lock:  # waits for a snapshot write in flight
                    live.gate.cancelled = cancelled

    def _ask_last(self, live: LiveSession, message: Any) -> Any:
        """Ask for a live session's last event; from then on nothing may bring its actor back."""
        with self.lock:
            self.current(live)
            live.closing = True
        try:
            return self.ask(live, message)
        except BaseException:
            live.closing = False
            raise

    def restart(self, live: LiveSession) -> None:
        """Replace the session's actor by a fresh one rebuilt from the store."""
        with self.lock:
            self._passivate(live)
        self.current(live)

    def actor_ref(self, live: LiveSession) -> pykka.ActorRef[SessionActor]:
        """The session's running actor (started if it was passivated)."""
        self.current(live)
        assert live.actor is not None
        return live.actor

    # -- passivation -------------------------------------------------------------------------

    def trim(self, keep: LiveSession | None = None) -> None:
        """Passivate least recently used idle sessions while more than ``max_resident`` are resident."""
        # Checked first without the lock: this runs after every turn; repeated under the lock.
        if self._max_resident is None or len(self._resident) <= self._max_resident:
            return
        with self.lock:
            if len(self._resident) <= self._max_resident:
                return
            for session_id in list(self._resident):
                if len(self._resident) <= self._max_resident:
                    break
                other = self._live.get(session_id)
                if other is not None and other is not keep and not other.turn_lock.locked():
                    self._passivate(other)

    def _spawn(self, live: LiveSession, state: SessionState) -> None:
        """Start the actor for ``state`` (caller holds the lock); passivate the LRU if over."""
        hooks = ActorHooks(publish=functools.partial(self._published, live), failed=self._actor_failed)
        live.actor = SessionActor.start(state, self._store, live.gate, hooks)
        self._resident[live.id] = None
        self._resident.move_to_end(live.id)
        self.trim(keep=live)

    def _passivate(self, live: LiveSession) -> None:
        """Stop a resident actor (nothing is lost); it comes back on the next access."""
        self._resident.pop(live.id, None)
        if live.actor is not None:
            try:
                live.stopping = live.actor.stop(block=False)
            except pykka.ActorDeadError:
                pass
            live.actor = None
        live.view = None

    def _published(self, live: LiveSession, state: SessionState) -> None:
        live.view = state.reader_copy()
        self._on_publish(live.view)

    def _actor_failed(self, session_id: str, error: BaseException) -> None:
        live = self._live.get(session_id)
        if live is not None:
            with self.lock:
                self._resident.pop(session_id, None)
                live.actor = None
        self._on_failure(session_id, error)
