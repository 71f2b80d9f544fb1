"""``MobHost``: the body of one Ray actor, a process hosting a group of mobs on a ``MobRuntime``.

Ray restarts the actor (on another node if its node died) without limit. Each incarnation
builds its own agent from the importable factory, waits until it *owns* its mobs on the shared
journal (the previous incarnation's writer lock must be gone: an LMDB journal's process lock, or
PostgreSQL ownership), then ``MobRuntime.open`` replays and reconciles every mob before the first
call is served. So a restart can never give two writers, and nothing acknowledged is lost.

Answers cross the process boundary as :class:`Reply` values, never as raised exceptions: a
library error travels as its class plus attributes and is raised again, unchanged, by the
handle (Ray would wrap it, and re-running ``__init__`` of errors with required arguments fails).
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray

import journal

from ..core.errors import Error, MobError, MobOwnedElsewhere
from ..core.mob import MobDefinition
from ..mobs.runtime import MobRuntime

log = logging.getLogger(__name__)

AgentFactory = Callable[[], Any]

# The MobHandle methods a host serves; anything else is refused at the door.
HANDLE_METHODS = frozenset({
    "status", "definition", "state", "members", "member", "spawn", "retire", "wire", "unwire",
    "turn", "stop", "resume", "complete", "reset", "destroy", "events",
})
OWNERSHIP_POLL_S = 0.05
READY_WAIT_S = 1.0
OWNERSHIP_KEY = "mob-host:"  # + the group: the journal lock a host holds while it serves
MOB_GROUP = "mob:"  # + a mob id: the group of a host serving one mob of a shared journal


def resolve_agent_factory(spec: str | AgentFactory) -> AgentFactory:
    """The factory named by ``"package.module:function"`` (or the callable itself).

    Raises :class:`MobError` saying what is wrong when the name cannot be imported or is not callable.
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise MobError(f"agent_factory must be a callable or 'package.module:function', got {spec!r}")
    module_name, attr = spec.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise MobError(f"agent_factory {spec!r} cannot be imported: {e}; it must be importable on every Ray node") from e
    if not callable(factory):
        raise MobError(f"agent_factory {spec!r} is not callable")
    return factory  # type: ignore[no-any-return]


class HostNotReady(MobError):
    """The host does not serve yet: it is waiting for the journal's previous owner, or opening
    the journal failed (the message says which). Handles wait through it."""

    code = "MOB_HOST_NOT_READY"


@dataclass(frozen=True)
class HostInfo:
    """Where a host runs: Ray node id, process id, whether Ray restarted the actor to get this
    incarnation, how long it took to own and replay its mobs (``open_s``; None while it does not
    serve yet) and, until then, what it is waiting for."""

    group: str
    node_id: str
    pid: int
    restarted: bool
    open_s: float | None
    waiting_for: str | None = None


@dataclass(frozen=True)
class Reply:
    """A host's answer: ``value``, or an error to raise again on the caller's side."""

    value: Any = None
    error: tuple[type[BaseException], tuple[Any, ...], dict[str, Any]] | None = None

    def unwrap(self) -> Any:
        if self.error is None:
            return self.value
        cls, args, attrs = self.error
        exc = cls.__new__(cls)
        BaseException.args.__set__(exc, args)  # type: ignore[attr-defined]
        exc.__dict__.update(attrs)
        raise exc


def _reply_error(e: BaseException) -> Reply:
    packed = (type(e), BaseException.args.__get__(e), dict(e.__dict__))  # type: ignore[attr-defined]
    try:
        pickle.dumps(packed)
    except Exception:  # an attribute that cannot travel: keep the class's message
        return Reply(error=(MobError, (f"{type(e).__name__}: {e}",), {}))
    return Reply(error=packed)


class MobHost:
    """One incarnation of a mob host actor (see the module docstring). Every public method is a
    Ray actor method; calls run concurrently on Ray's thread pool (``max_concurrency``).

    The constructor returns at once (a constructor that blocks or fails makes Ray restart the
    actor in a loop and hides why); a thread then builds the agent, waits for ownership and
    opens the runtime, and until it has, calls answer :class:`HostNotReady` with the reason.
    """

    def __init__(self, journal_url: str, agent_factory: str | AgentFactory, group: str) -> None:
        self._started = time.monotonic()
        self.group = group
        context = ray.get_runtime_context()
        self._node_id, self._restarted = context.get_node_id(), _restarted(context)
        self._ready = threading.Event()
        self._closing = threading.Event()
        self._why = "starting"
        self._open_s: float | None = None
        self.journal: journal.EventJournal | None = None
        self.runtime: MobRuntime | None = None
        threading.Thread(target=self._own, args=(journal_url, agent_factory), name=f"mob-host-{group}", daemon=True).start()

    def _own(self, journal_url: str, agent_factory: str | AgentFactory) -> None:
        try:
            agent = resolve_agent_factory(agent_factory)()
            opened = _open_when_owned(journal_url, agent, self.group, self._waiting, self._closing)
            if opened is None:
                return
            self.journal, self.runtime = opened
            self._open_s = time.monotonic() - self._started
            self._why = ""
            self._ready.set()
            log.info("mob host %s serving on node %s (pid %d, opened in %.2fs)", self.group, self._node_id, os.getpid(), self._open_s)
        except BaseException as e:  # told to every caller: this host will not serve
            self._why = f"opening the journal failed: {type(e).__name__}: {e}"
            log.exception("mob host %s cannot serve", self.group)

    def _waiting(self, why: str) -> None:
        self._why = why

    def _serving(self) -> MobRuntime:
        self._ready.wait(READY_WAIT_S)  # a call that arrives just before the host is ready waits a little
        if self.runtime is None or self._closing.is_set():
            raise HostNotReady(f"mob host {self.group!r} does not serve yet: {self._why or 'closing'}")
        return self.runtime

    def where(self) -> HostInfo:
        """Where this incarnation runs, and whether it serves yet (a cheap liveness probe)."""
        return HostInfo(self.group, self._node_id, os.getpid(), self._restarted, self._open_s, self._why or None)

    def mob_ids(self) -> Reply:
        """The ids of the mobs this host serves (not destroyed)."""
        try:
            return Reply([h.mob_id for h in self._serving().list_mobs()])
        except Error as e:
            return _reply_error(e)

    def create_mob(self, definition: MobDefinition) -> Reply:
        try:
            return Reply(self._serving().create_mob(definition).mob_id)
        except Error as e:
            return _reply_error(e)

    def call(self, mob_id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Reply:
        """Run ``MobHandle.<method>(*args, **kwargs)`` on mob ``mob_id``."""
        if method not in HANDLE_METHODS:
            return _reply_error(MobError(f"{method!r} is not a mob handle method (one of {sorted(HANDLE_METHODS)})"))
        try:
            return Reply(getattr(self._serving().mob(mob_id), method)(*args, **kwargs))
        except (Error, journal.JournalError) as e:
            return _reply_error(e)

    def close(self) -> None:
        """Close the runtime and the journal, which gives up the ownership (before the actor is
        killed on purpose); a host still waiting for ownership stops waiting."""
        self._closing.set()
        if self.runtime is not None:
            self.runtime.close()
        if self.journal is not None:
            self.journal.close()


def _open_when_owned(
    journal_url: str, agent: Any, group: str, waiting: Callable[[str], None], closing: threading.Event
) -> tuple[journal.EventJournal, MobRuntime] | None:
    """Open the journal and own the group, replaying and reconciling its mobs (None if
    ``closing`` was set meanwhile). Waits as long as it takes, telling ``waiting`` why.

    The previous incarnation may still be alive (a node cut off but not dead yet): its writer
    lock keeps us waiting until it is gone, so there is never a second writer. A one-mob group
    (``mob:<id>``, PostgreSQL) waits for that mob's ownership lock (``MobRuntime.mob``); the
    group of a journal directory for its process lock (and the group's lock, which then holds).
    """
    while not closing.is_set():
        try:
            j = journal.open(journal_url)
        except journal.JournalLocked as e:  # LMDB: the old host process still has it open
            waiting(f"waiting for the journal's previous writer to go: {e}")
            closing.wait(OWNERSHIP_POLL_S)
            continue
        try:
            if group.startswith(MOB_GROUP):
                return _own_one_mob(j, agent, group[len(MOB_GROUP):], waiting, closing)
            key = OWNERSHIP_KEY + group
            while not j.try_lock(key):
                waiting(f"waiting for the ownership lock {key!r}, held by {j.lock_owner(key)}")
                if closing.wait(OWNERSHIP_POLL_S):
                    j.close()
                    return None
            return j, MobRuntime.open(j, agent)
        except BaseException:
            j.close()
            raise
    return None


def _own_one_mob(
    j: journal.EventJournal, agent: Any, mob_id: str, waiting: Callable[[str], None], closing: threading.Event
) -> tuple[journal.EventJournal, MobRuntime] | None:
    runtime = MobRuntime.open(j, agent, mobs=[mob_id])
    try:
        while not closing.is_set():
            try:
                runtime.mob(mob_id)  # takes it over (replay, reconcile) once its owner is gone
                return j, runtime
            except MobOwnedElsewhere as e:
                waiting(f"waiting for mob {mob_id!r}'s ownership lock: {e}")
                closing.wait(OWNERSHIP_POLL_S)
            except MobError:  # no such mob yet (create_mob follows), or one that cannot be resumed (calls say why)
                return j, runtime
    except BaseException:
        runtime.close()
        raise
    runtime.close()
    j.close()
    return None


def _restarted(context: Any) -> bool:
    return bool(context.was_current_actor_reconstructed)
