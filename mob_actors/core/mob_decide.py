"""The mob's transition rules: given a mob's state and a command, decide which events it produces.

``decide(state, command) -> events`` is pure: no I/O, no clock, no ids of its own (the caller puts
the time and the new member's session id in the command), and it never changes the state it is
given. It raises :class:`InvalidTransition` when the mob's status does not allow the command, and
:class:`MobError` (its base) when the command itself is wrong: a bad member id, an unknown member
or profile. An empty list means the command is already satisfied (retiring a member that is gone,
wiring two members that already are).

The supervisor performs the effects around what this returns (it creates and archives sessions,
cancels checkpointers) and applies the events with :func:`mob_actors.core.mob.evolve_mob`, the one
evolve that replay uses too.

Which command each status allows::

                 creating  running  stopped  completed  destroyed
    create          yes       -        -         -          -
    spawn            -       yes       -         -          -
    retire          yes      yes      yes       yes        yes     (no-op for a non-member)
    wire/unwire      -       yes       -         -          -
    stop             -       yes       -         -          -
    resume           -        -       yes        -          -
    complete         -       yes      yes        -          -
    reset            -       yes      yes       yes         -
    destroy         yes      yes      yes       yes         -
    fork            yes       -        -         -          -      (the new mob's first events)
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import journal

from . import events as ev
from .errors import InvalidTransition, MobError
from .mob import MobDefinition, MobState, MobStatus, RosterEntry
from .model import CreateSessionRequest, MobBinding
from .values import BadValue, check_text, clean_dict

PERSISTENT_CONTRACT = "session_service must satisfy persistent-session contract (REQ-MOB-030)"

#: No member is broken (the default for :func:`decide`'s ``broken``).
NONE_BROKEN: Mapping[str, str] = types.MappingProxyType({})


# -- commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    """Record a new mob with its definition (its first ``mob_created``)."""

    definition: MobDefinition
    at_ms: int


@dataclass(frozen=True)
class Spawn:
    """Add member ``member_id`` of ``profile``, bound to the new session ``session_id``.

    The caller mints ``session_id`` and creates that session after :func:`decide` accepts.
    """

    member_id: str
    profile: str
    session_id: str
    at_ms: int
    labels: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Retire:
    """Remove a member from the roster (its session is then archived)."""

    member_id: str
    at_ms: int


@dataclass(frozen=True)
class Wire:
    """Wire two members to each other (symmetric)."""

    a: str
    b: str
    at_ms: int


@dataclass(frozen=True)
class Unwire:
    """Remove the wire between two members."""

    a: str
    b: str
    at_ms: int


@dataclass(frozen=True)
class Stop:
    """Stop a running mob: its sessions stay live, their turns and checkpoints stop."""

    at_ms: int


@dataclass(frozen=True)
class Resume:
    """Run a stopped mob again. ``durable_sessions`` says whether the session service keeps
    sessions across restarts; without it the mob resumes only if ``allow_ephemeral``."""

    at_ms: int
    durable_sessions: bool
    allow_ephemeral: bool


@dataclass(frozen=True)
class Complete:
    """Retire every member and mark the mob done."""

    at_ms: int


@dataclass(frozen=True)
class Reset:
    """Retire every member and start a new epoch with the same definition."""

    at_ms: int


@dataclass(frozen=True)
class Destroy:
    """Retire every member and end the mob (the supervisor then deletes its events)."""

    at_ms: int


@dataclass(frozen=True)
class Fork:
    """Record a new mob as a fork of ``source`` (the source mob's state at journal position
    ``at_position``): same profiles and wiring, every member of that roster bound to a fork of its
    session. ``sessions`` maps each member to (its new session id, the source session id, the
    seq the fork was taken at); the caller forks the sessions and mints the ids."""

    source: MobState
    at_position: int
    sessions: Mapping[str, tuple[str, str, int]]
    at_ms: int


MobCommand = Create | Spawn | Retire | Wire | Unwire | Stop | Resume | Complete | Reset | Destroy | Fork


# -- decide -------------------------------------------------------------------------------------


def decide(state: MobState, command: MobCommand, broken: Mapping[str, str] = NONE_BROKEN) -> list[journal.Event]:
    """The events that ``command`` produces in ``state``, in the order they are to be appended.

    ``broken`` maps the members whose session is unusable right now to why (a runtime fact the
    supervisor keeps beside the state; wiring refuses them). Complete, reset and destroy start
    with one ``member_retired`` per member, in roster order; the supervisor appends those one at a
    time (each followed by archiving that member's session) and the rest in one write.
    """
    match command:
        case Create(definition, at_ms):
            if state.status is not MobStatus.CREATING:
                raise InvalidTransition(state.status, MobStatus.RUNNING, f"mob {state.mob_id!r} already exists")
            if definition.mob_id != state.mob_id:
                raise MobError(f"definition of mob {definition.mob_id!r} given to mob {state.mob_id!r}")
            return [ev.MOB_CREATED(definition=definition.to_dict(), at_ms=at_ms)]
        case Spawn():
            return _spawn(state, command)
        case Retire(member_id, at_ms):
            return [ev.MEMBER_RETIRED(member_id=member_id, at_ms=at_ms)] if member_id in state.roster else []
        case Wire(a, b, at_ms):
            _check_pair(state, a, b, broken)
            return [] if b in state.roster[a].wired_to else [ev.PEERS_WIRED(a=a, b=b, at_ms=at_ms)]
        case Unwire(a, b, at_ms):
            _check_pair(state, a, b, broken)
            return [ev.PEERS_UNWIRED(a=a, b=b, at_ms=at_ms)] if b in state.roster[a].wired_to else []
        case Stop(at_ms):
            if state.status is not MobStatus.RUNNING:
                raise InvalidTransition(state.status, MobStatus.STOPPED, _NEXT_STEP.get(state.status, ""))
            return [ev.MOB_STOPPED(at_ms=at_ms)]
        case Resume(at_ms, durable_sessions, allow_ephemeral):
            if state.status is not MobStatus.STOPPED:
                raise InvalidTransition(state.status, MobStatus.RUNNING, _RESUME_HINT.get(state.status, _NEXT_STEP.get(state.status, "")))
            require_persistent(durable_sessions, allow_ephemeral)
            return [ev.MOB_RESUMED(at_ms=at_ms)]
        case Complete(at_ms):
            if state.status not in (MobStatus.RUNNING, MobStatus.STOPPED):
                raise InvalidTransition(state.status, MobStatus.COMPLETED, _NEXT_STEP.get(state.status, ""))
            return [*_retire_all(state, at_ms), ev.MOB_COMPLETED(at_ms=at_ms)]
        case Reset(at_ms):
            if state.status in (MobStatus.DESTROYED, MobStatus.CREATING):
                raise InvalidTransition(state.status, MobStatus.RUNNING, f"reset; {_NEXT_STEP[state.status]}")
            definition = _definition(state)
            # The new epoch repeats the definition, so a reader of it alone knows the mob.
            return [*_retire_all(state, at_ms), ev.MOB_CREATED(definition=definition.to_dict(), at_ms=at_ms), ev.MOB_RESET(at_ms=at_ms)]
        case Fork():
            return _fork(state, command)
        case Destroy(at_ms):
            if state.status is MobStatus.DESTROYED:
                raise InvalidTransition(state.status, MobStatus.DESTROYED, _NEXT_STEP[state.status])
            return [*_retire_all(state, at_ms), ev.MOB_DESTROYED(at_ms=at_ms)]
    raise MobError(f"not a mob command: {command!r}")


def check_turn(state: MobState, member_id: str, broken: Mapping[str, str] = NONE_BROKEN) -> str:
    """The session id a turn of ``member_id`` runs on; raises if the mob or member cannot run one."""
    _require(state, MobStatus.RUNNING, action="run a turn")
    entry = entry_of(state, member_id)
    if member_id in broken:
        raise MobError(f"member {member_id!r} of mob {state.mob_id!r} is broken: restore failed: {broken[member_id]}")
    return entry.session_id


def require_persistent(durable_sessions: bool, allow_ephemeral: bool) -> None:
    """Mobs need sessions that survive a restart, unless the host allows otherwise."""
    if not durable_sessions and not allow_ephemeral:
        raise MobError(f"{PERSISTENT_CONTRACT}; pass allow_ephemeral_sessions=True to run mobs on memory-only sessions")


def member_session_request(state: MobState, spawned: journal.Event) -> CreateSessionRequest:
    """The session to create for a decided ``member_spawned``: its profile's prompt and metadata,
    the member's labels, and the binding that makes it recognisable as this member."""
    d = spawned.data
    spec = _definition(state).profiles[d["profile"]]
    return CreateSessionRequest(
        session_id=d["session_id"],
        system_prompt=spec.system_prompt,
        metadata=dict(spec.metadata or {}),
        labels=dict(d["labels"]),
        binding=MobBinding(state.mob_id, d["profile"], d["member_id"]),
    )


def entry_of(state: MobState, member_id: str) -> RosterEntry:
    """The roster entry of ``member_id``; raises :class:`MobError` naming it if there is none."""
    entry = state.roster.get(member_id)
    if entry is None:
        raise MobError(f"mob {state.mob_id!r} has no member {member_id!r}")
    return entry


# -- rules --------------------------------------------------------------------------------------


def _spawn(state: MobState, cmd: Spawn) -> list[journal.Event]:
    _require(state, MobStatus.RUNNING, action="spawn")
    definition = _definition(state)
    member_id = cmd.member_id
    try:
        if not isinstance(member_id, str) or not member_id or "/" in member_id:
            raise BadValue(f"member_id must be a non-empty string without '/', got {member_id!r}")
        check_text(member_id, "member_id")
        check_text(cmd.profile, "profile")
        host_labels = clean_dict(cmd.labels, "labels")
    except BadValue as e:
        raise MobError(f"spawn in mob {state.mob_id!r}: {e}") from None
    if member_id in state.roster:
        raise MobError(f"mob {state.mob_id!r} already has a member {member_id!r}; retire it first")
    if cmd.profile not in definition.profiles:
        raise MobError(f"mob {state.mob_id!r} has no profile {cmd.profile!r} (it has {sorted(definition.profiles)})")
    # Standard labels override the host's: they are how a session is recognised as a member.
    labels = {**host_labels, "mob_id": state.mob_id, "role": cmd.profile, "member_id": member_id}
    events = [ev.MEMBER_SPAWNED(member_id=member_id, profile=cmd.profile, session_id=cmd.session_id, labels=labels, at_ms=cmd.at_ms)]
    # The definition's wiring applies as soon as both ends are members, whichever spawns first.
    for a, b in definition.wiring:
        peer = b if a == member_id else a if b == member_id else None
        if peer is not None and peer in state.roster:
            events.append(ev.PEERS_WIRED(a=member_id, b=peer, at_ms=cmd.at_ms))
    return events


def fork_labels(entry: RosterEntry, mob_id: str) -> dict[str, Any]:
    """A forked member's labels: the source member's, naming the new mob."""
    return {**entry.labels, "mob_id": mob_id}


def _fork(state: MobState, cmd: Fork) -> list[journal.Event]:
    if state.status is not MobStatus.CREATING:
        raise InvalidTransition(state.status, MobStatus.RUNNING, f"mob {state.mob_id!r} already exists; fork into a new mob id")
    source = cmd.source
    definition = _definition(source)
    if set(cmd.sessions) != set(source.roster):
        raise MobError(f"fork of mob {source.mob_id!r}: sessions for {sorted(cmd.sessions)}, its roster is {sorted(source.roster)}")
    new = MobDefinition(state.mob_id, dict(definition.profiles), definition.wiring)
    at = cmd.at_ms
    events = [
        ev.MOB_CREATED(definition=new.to_dict(), at_ms=at),
        ev.MOB_FORKED(
            source_mob_id=source.mob_id, at_position=cmd.at_position,
            sessions={m: [src, seq] for m, (_, src, seq) in cmd.sessions.items()}, at_ms=at,
        ),
    ]
    for member_id, entry in source.roster.items():
        events.append(ev.MEMBER_SPAWNED(
            member_id=member_id, profile=entry.profile, session_id=cmd.sessions[member_id][0],
            labels=fork_labels(entry, state.mob_id), at_ms=at,
        ))
    wired = sorted({tuple(sorted((m, peer))) for m, e in source.roster.items() for peer in e.wired_to if peer in source.roster})
    events += [ev.PEERS_WIRED(a=a, b=b, at_ms=at) for a, b in wired]
    return events


def _check_pair(state: MobState, a: str, b: str, broken: Mapping[str, str]) -> None:
    _require(state, MobStatus.RUNNING, action="change wiring")
    if a == b:
        raise MobError(f"cannot wire member {a!r} to itself")
    for m in (a, b):
        entry_of(state, m)
        if m in broken:
            raise MobError(f"member {m!r} is broken: restore failed: {broken[m]}")


def _retire_all(state: MobState, at_ms: int) -> list[journal.Event]:
    return [ev.MEMBER_RETIRED(member_id=m, at_ms=at_ms) for m in state.roster]


#: What to do next when a mob's status refuses a command (said in the error).
_NEXT_STEP: Mapping[MobStatus, str] = types.MappingProxyType({
    MobStatus.CREATING: "the mob has no mob_created event yet; create it with runtime.create_mob()",
    MobStatus.RUNNING: "the mob is running",
    MobStatus.STOPPED: "call resume() first",
    MobStatus.COMPLETED: "the mob is completed; reset() starts a new epoch with the same definition",
    MobStatus.DESTROYED: "the mob was destroyed; create it again with runtime.create_mob()",
})
_RESUME_HINT: Mapping[MobStatus, str] = types.MappingProxyType({
    MobStatus.RUNNING: "the mob is already running",
    MobStatus.COMPLETED: "a completed mob does not resume; reset() starts a new epoch with the same definition (and no members)",
})


def _require(state: MobState, status: MobStatus, action: str) -> None:
    if state.status is not status:
        raise InvalidTransition(state.status, status, f"cannot {action} while {state.status.value}; {_NEXT_STEP[state.status]}")


def _definition(state: MobState) -> MobDefinition:
    if state.definition is None:
        raise MobError(f"mob {state.mob_id!r} has no definition (its history has no mob_created event)")
    return state.definition
