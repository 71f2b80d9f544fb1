"""A mob's definition, status and roster as a fold over its events (stream ``mob:<id>``).

``evolve_mob(state, event) -> state`` is the one function the supervisor (live) and the replay
tool use. Like the session ``evolve`` it does no I/O; it returns a new state and never changes
the one it is given. Runtime-only facts (a member being retired right now, or broken because its
session could not be restored) are not events: the supervisor keeps them beside this state.
Which events a command produces is decided in :mod:`mob_actors.core.mob_decide`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import journal.codec

from . import events as ev
from .errors import CorruptMobEvent, MobError
from .values import BadValue, check_optional_text, check_text, clean_dict

#: The longest mob id, in UTF-8 bytes: its stream ``mob:<id>`` must fit the journal's limit.
MAX_MOB_ID_BYTES = journal.codec.MAX_STREAM_ID_BYTES - len(ev.MOB_STREAM_PREFIX)


class MobStatus(str, enum.Enum):  # noqa: UP042 - a StrEnum would change str(status)
    """Where a mob is in its life; :mod:`~mob_actors.core.mob_decide` says what each allows."""

    CREATING = "creating"
    RUNNING = "running"
    STOPPED = "stopped"
    COMPLETED = "completed"
    DESTROYED = "destroyed"


class MemberState(str, enum.Enum):  # noqa: UP042 - a StrEnum would change str(state)
    """A member's runtime state (not stored: the supervisor knows it, replay does not)."""

    ACTIVE = "active"
    RETIRING = "retiring"
    BROKEN = "broken"


@dataclass(frozen=True)
class Profile:
    """A role members are spawned with: its system prompt and session metadata."""

    name: str
    system_prompt: str | None = None
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Checked and stored normalised (None becomes {}, tuples lists), so a definition read back
        # from the journal equals the one it was created with.
        try:
            if not check_text(self.name, "Profile.name"):
                raise BadValue("Profile.name must not be empty")
            check_optional_text(self.system_prompt, "Profile.system_prompt")
            object.__setattr__(self, "metadata", clean_dict(self.metadata, "Profile.metadata"))
        except BadValue as e:
            raise MobError(str(e)) from None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "system_prompt": self.system_prompt, "metadata": dict(self.metadata or {})}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile:
        return cls(d["name"], d.get("system_prompt"), dict(d.get("metadata") or {}))


@dataclass(frozen=True)
class MobDefinition:
    """A mob: its profiles by name and the member pairs to wire (``wiring``) as they spawn."""

    mob_id: str
    profiles: dict[str, Profile]
    wiring: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_mob_id(self.mob_id)
        if not isinstance(self.profiles, Mapping):
            raise MobError(f"MobDefinition.profiles must be a dict of name -> Profile, got {type(self.profiles).__name__}")
        for name, profile in self.profiles.items():
            if not isinstance(profile, Profile):
                raise MobError(f"MobDefinition.profiles[{name!r}] must be a Profile, got {type(profile).__name__}")
            if name != profile.name:
                raise MobError(f"profile key {name!r} differs from its name {profile.name!r}")
        object.__setattr__(self, "profiles", dict(self.profiles))
        object.__setattr__(self, "wiring", _wiring(self.wiring))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mob_id": self.mob_id,
            "profiles": {name: p.to_dict() for name, p in self.profiles.items()},
            "wiring": [list(pair) for pair in self.wiring],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MobDefinition:
        return cls(
            d["mob_id"],
            {name: Profile.from_dict(p) for name, p in d["profiles"].items()},
            tuple((a, b) for a, b in d.get("wiring", ())),
        )


def check_mob_id(mob_id: object) -> str:
    """``mob_id`` if it can name a mob (a non-empty str without NUL that fits a journal stream id)."""
    try:
        if not check_text(mob_id, "mob_id") or "\x00" in mob_id:  # type: ignore[operator]
            raise BadValue(f"mob_id must be a non-empty string without NUL, got {mob_id!r}")
    except BadValue as e:
        raise MobError(str(e)) from None
    assert isinstance(mob_id, str)
    size = len(mob_id.encode("utf-8"))
    if size > MAX_MOB_ID_BYTES:
        raise MobError(f"mob_id is {size} bytes of UTF-8; a mob id may have at most {MAX_MOB_ID_BYTES}")
    return mob_id


def _wiring(pairs: object) -> tuple[tuple[str, str], ...]:
    """The definition's wiring as a tuple of pairs of two different member ids."""
    if not isinstance(pairs, (tuple, list)):
        raise MobError(f"MobDefinition.wiring must be a tuple of (member, member) pairs, got {type(pairs).__name__}")
    out = []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(isinstance(m, str) and m for m in pair):
            raise MobError(f"MobDefinition.wiring: {pair!r} is not a pair of two member ids")
        if pair[0] == pair[1]:
            raise MobError(f"MobDefinition.wiring: cannot wire member {pair[0]!r} to itself")
        out.append((pair[0], pair[1]))
    return tuple(out)


@dataclass(frozen=True)
class RosterEntry:
    """A member as the mob's events record it: its profile, session, labels and wired peers."""

    member_id: str
    profile: str
    session_id: str
    labels: dict[str, Any] = field(default_factory=dict)
    wired_to: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MobState:
    """What a mob's events say: definition, status, roster and epoch (resets so far)."""

    mob_id: str
    definition: MobDefinition | None = None
    status: MobStatus = MobStatus.CREATING
    roster: Mapping[str, RosterEntry] = field(default_factory=dict)
    epoch: int = 0
    seq: int = 0
    updated_at_ms: int = 0
    forked_from: Mapping[str, Any] | None = None  # {source_mob_id, at_position, sessions} of a forked mob


#: What applying a damaged but decodable mob event raises; evolve_mob turns it into CorruptMobEvent.
_SCHEMA_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, MobError)


def evolve_mob(state: MobState, event: Any) -> MobState:
    """Apply one mob event (anything with ``type`` and ``data``).

    A stored event that breaks its type's schema, or of a type this version does not know,
    raises :class:`~mob_actors.CorruptMobEvent` naming the stream, seq and field.
    """
    try:
        return _evolve_mob(state, event)
    except _SCHEMA_ERRORS as e:
        stream = getattr(event, "stream_id", None) or ev.mob_stream(state.mob_id)
        seq = getattr(event, "seq", None) or state.seq + 1
        raise CorruptMobEvent.from_error(stream, seq, event.type, e) from e


def _evolve_mob(state: MobState, event: Any) -> MobState:
    d = event.data
    roster = state.roster
    match event.type:
        case ev.MOB_CREATED.name:
            definition = MobDefinition.from_dict(d["definition"])
            state = replace(state, definition=definition, status=MobStatus.RUNNING)
        case ev.MEMBER_SPAWNED.name:
            entry = RosterEntry(d["member_id"], d["profile"], d["session_id"], dict(d["labels"] or {}))
            state = replace(state, roster={**roster, entry.member_id: entry})
        case ev.MEMBER_RETIRED.name:
            gone = d["member_id"]
            state = replace(state, roster={
                m: replace(e, wired_to=e.wired_to - {gone}) for m, e in roster.items() if m != gone
            })
        case ev.PEERS_WIRED.name | ev.PEERS_UNWIRED.name:
            a, b = d["a"], d["b"]
            wire = event.type == ev.PEERS_WIRED.name

            def edge(entry: RosterEntry, peer: str) -> RosterEntry:
                return replace(entry, wired_to=entry.wired_to | {peer} if wire else entry.wired_to - {peer})

            new = dict(roster)
            if a in new:
                new[a] = edge(new[a], b)
            if b in new:
                new[b] = edge(new[b], a)
            state = replace(state, roster=new)
        case ev.MOB_STOPPED.name:
            state = replace(state, status=MobStatus.STOPPED)
        case ev.MOB_RESUMED.name:
            state = replace(state, status=MobStatus.RUNNING)
        case ev.MOB_COMPLETED.name:
            state = replace(state, status=MobStatus.COMPLETED)
        case ev.MOB_RESET.name:
            state = replace(state, roster={}, status=MobStatus.RUNNING, epoch=state.epoch + 1)
        case ev.MOB_FORKED.name:
            state = replace(state, forked_from={"source_mob_id": d["source_mob_id"], "at_position": d["at_position"], "sessions": d["sessions"]})
        case ev.MOB_DESTROYED.name:
            state = replace(state, roster={}, status=MobStatus.DESTROYED)
        case _:
            raise MobError("it is not a mob event type this version knows")
    return replace(state, seq=state.seq + 1, updated_at_ms=d.get("at_ms", state.updated_at_ms))


def fold_mob(mob_id: str, events: Iterable[Any]) -> MobState:
    """The state after ``events`` (a mob with no ``mob_created`` stays CREATING, definition None)."""
    state = MobState(mob_id)
    for event in events:
        state = evolve_mob(state, event)
    return state


@dataclass(frozen=True)
class Member:
    """A member as a host sees it: its roster entry plus its runtime state."""

    member_id: str
    profile: str
    session_id: str
    state: MemberState
    error: str | None = None
    wired_to: tuple[str, ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)
