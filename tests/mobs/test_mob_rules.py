"""The mob's transition rules (core.mob_decide), checked without actors, journals or sessions.

Every command in every status: which are allowed, which refused (and with which transition),
what the events carry, that decide never changes the state it is given, and (hypothesis) that
folding whatever decide accepts keeps a consistent roster.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import journal
from mob_actors import InvalidTransition, MobDefinition, MobError, MobStatus, Profile
from mob_actors.core import events as ev
from mob_actors.core import mob_decide as rules
from mob_actors.core.mob import MobState, evolve_mob, fold_mob
from mob_actors.core.mob_decide import (
    Complete,
    Create,
    Destroy,
    MobCommand,
    Reset,
    Resume,
    Retire,
    Spawn,
    Stop,
    Unwire,
    Wire,
    decide,
)
from mob_actors.core.model import CreateSessionRequest, MobBinding

AT = 1_000
DEF = MobDefinition(
    "m",
    {"lead": Profile("lead", "You lead.", {"model": "big"}), "worker": Profile("worker", "You work.", {"model": "small"})},
    (("lead", "w1"), ("w2", "lead")),
)
S = MobStatus


# -- states built from events (independently of decide) ------------------------------------------


def _spawned(member: str, profile: str = "worker") -> journal.Event:
    return ev.MEMBER_SPAWNED(member_id=member, profile=profile, session_id=f"s-{member}", labels={"member_id": member}, at_ms=1)


def state_in(status: MobStatus) -> MobState:
    """A mob in ``status``: running or stopped ones have members a, b (wired to each other) and c."""
    created = ev.MOB_CREATED(definition=DEF.to_dict(), at_ms=1)
    members = [_spawned("a"), _spawned("b"), _spawned("c"), ev.PEERS_WIRED(a="a", b="b", at_ms=1)]
    history: dict[MobStatus, list[journal.Event]] = {
        S.CREATING: [],
        S.RUNNING: [created, *members],
        S.STOPPED: [created, *members, ev.MOB_STOPPED(at_ms=1)],
        S.COMPLETED: [created, _spawned("a"), ev.MEMBER_RETIRED(member_id="a", at_ms=1), ev.MOB_COMPLETED(at_ms=1)],
        S.DESTROYED: [created, ev.MOB_DESTROYED(at_ms=1)],
    }
    state = fold_mob("m", history[status])
    assert state.status is status
    return state


def types_of(events: Iterable[journal.Event]) -> list[str]:
    return [e.type for e in events]


def decide_unchanged(state: MobState, command: MobCommand, broken: dict[str, str] | None = None) -> list[journal.Event]:
    """decide, checking that it left ``state`` (and ``broken``) exactly as they were."""
    before, broken_before = copy.deepcopy(state), copy.deepcopy(broken)
    roster_ids = {m: id(e) for m, e in state.roster.items()}
    try:
        return decide(state, command) if broken is None else decide(state, command, broken)
    finally:
        assert state == before and broken == broken_before
        assert {m: id(e) for m, e in state.roster.items()} == roster_ids


# -- every command in every status ------------------------------------------------------------------

RETIRED_ABC = ["member_retired"] * 3
ALL = list(MobStatus)

# command, {status: the event types it decides}, the target of the InvalidTransition elsewhere
MATRIX: list[tuple[str, MobCommand, dict[MobStatus, list[str]], MobStatus | None]] = [
    ("create", Create(DEF, AT), {S.CREATING: ["mob_created"]}, S.RUNNING),
    ("spawn", Spawn("w1", "worker", "s-w1", AT), {S.RUNNING: ["member_spawned"]}, S.RUNNING),
    ("retire", Retire("a", AT), {S.CREATING: [], S.RUNNING: ["member_retired"], S.STOPPED: ["member_retired"],
                                 S.COMPLETED: [], S.DESTROYED: []}, None),
    ("wire", Wire("a", "c", AT), {S.RUNNING: ["peers_wired"]}, S.RUNNING),
    ("unwire", Unwire("b", "a", AT), {S.RUNNING: ["peers_unwired"]}, S.RUNNING),
    ("stop", Stop(AT), {S.RUNNING: ["mob_stopped"]}, S.STOPPED),
    ("resume", Resume(AT, True, False), {S.STOPPED: ["mob_resumed"]}, S.RUNNING),
    ("complete", Complete(AT), {S.RUNNING: [*RETIRED_ABC, "mob_completed"], S.STOPPED: [*RETIRED_ABC, "mob_completed"]},
     S.COMPLETED),
    ("reset", Reset(AT), {S.RUNNING: [*RETIRED_ABC, "mob_created", "mob_reset"], S.STOPPED: [*RETIRED_ABC, "mob_created", "mob_reset"],
                          S.COMPLETED: ["mob_created", "mob_reset"]}, S.RUNNING),
    ("destroy", Destroy(AT), {S.CREATING: ["mob_destroyed"], S.RUNNING: [*RETIRED_ABC, "mob_destroyed"],
                              S.STOPPED: [*RETIRED_ABC, "mob_destroyed"], S.COMPLETED: ["mob_destroyed"]}, S.DESTROYED),
]
CASES = [
    pytest.param(command, status, allowed.get(status), target, id=f"{name}-{status.value}")
    for (name, command, allowed, target), status in itertools.product(MATRIX, ALL)
]


@pytest.mark.parametrize(("command", "status", "expected", "target"), CASES)
def test_every_command_in_every_status(command: MobCommand, status: MobStatus, expected: list[str] | None, target: MobStatus) -> None:
    state = state_in(status)
    if expected is None:
        with pytest.raises(InvalidTransition) as info:
            decide_unchanged(state, command)
        assert (info.value.from_state, info.value.to_state) == (status, target)
        return
    events = decide_unchanged(state, command)
    assert types_of(events) == expected
    assert all(e.data["at_ms"] == AT for e in events)
    assert all(e.version == ev.ALL[e.type].version for e in events)


def test_the_docstring_table_matches_the_rules() -> None:
    """The module doc's table is what a reader trusts: it must say what decide does."""
    doc = rules.__doc__ or ""
    rows = {line.split()[0]: line.split()[1:6] for line in doc.splitlines() if line.startswith("    ") and "yes" in line}
    for name, _command, allowed, _target in MATRIX:
        row = rows["wire/unwire" if name in ("wire", "unwire") else name]
        assert [status for status, cell in zip(ALL, row, strict=True) if cell == "yes"] == list(allowed), name


def test_refusals_name_the_action_and_the_status() -> None:
    stopped = state_in(S.STOPPED)
    with pytest.raises(InvalidTransition, match="cannot spawn while stopped"):
        decide(stopped, Spawn("d", "worker", "s-d", AT))
    with pytest.raises(InvalidTransition, match="cannot change wiring while stopped"):
        decide(stopped, Wire("a", "c", AT))
    with pytest.raises(InvalidTransition, match="invalid mob transition DESTROYED -> RUNNING: reset"):
        decide(state_in(S.DESTROYED), Reset(AT))


# -- create -------------------------------------------------------------------------------------------


def test_create_records_the_definition_and_checks_its_mob_id() -> None:
    [created] = decide_unchanged(MobState("m"), Create(DEF, AT))
    assert created.data == {"definition": DEF.to_dict(), "at_ms": AT}
    assert fold_mob("m", [created]).definition == DEF
    with pytest.raises(MobError, match="definition of mob 'other' given to mob 'm'"):
        decide(MobState("m"), Create(MobDefinition("other", {}), AT))


# -- spawn --------------------------------------------------------------------------------------------


def test_spawn_payload_labels_and_the_session_to_create() -> None:
    state = state_in(S.RUNNING)
    host_labels = {"team": "blue", "mob_id": "spoofed", "role": "x", "member_id": "y"}
    [spawned] = decide_unchanged(state, Spawn("d", "lead", "sess-d", AT, host_labels))
    labels = {"team": "blue", "mob_id": "m", "role": "lead", "member_id": "d"}  # the standard labels win
    assert spawned.data == {"member_id": "d", "profile": "lead", "session_id": "sess-d", "labels": labels, "at_ms": AT}
    assert host_labels["mob_id"] == "spoofed"  # the caller's labels are not changed
    assert rules.member_session_request(state, spawned) == CreateSessionRequest(
        session_id="sess-d", system_prompt="You lead.", metadata={"model": "big"}, labels=labels,
        binding=MobBinding("m", "lead", "d"),
    )


def test_spawn_applies_the_definition_wiring_whichever_end_spawns_first() -> None:
    state = fold_mob("m", [ev.MOB_CREATED(definition=DEF.to_dict(), at_ms=1)])
    [w1] = decide(state, Spawn("w1", "worker", "s1", AT))  # its peer (lead) is not there yet
    state = evolve_mob(state, w1)
    lead = decide(state, Spawn("lead", "lead", "s2", AT))
    assert [(e.type, e.data.get("a"), e.data.get("b")) for e in lead] == [
        ("member_spawned", None, None), ("peers_wired", "lead", "w1"),
    ]
    for e in lead:
        state = evolve_mob(state, e)
    w2 = decide(state, Spawn("w2", "worker", "s3", AT))
    assert [(e.type, e.data.get("a"), e.data.get("b")) for e in w2][1:] == [("peers_wired", "w2", "lead")]
    for e in w2:
        state = evolve_mob(state, e)
    assert state.roster["lead"].wired_to == {"w1", "w2"}


@pytest.mark.parametrize(("member_id", "profile", "match"), [
    ("", "worker", "non-empty string without '/'"),
    ("x/y", "worker", "non-empty string without '/'"),
    (7, "worker", "non-empty string without '/'"),
    ("a", "worker", "already has a member 'a'; retire it first"),
    ("d", "nobody", r"has no profile 'nobody' \(it has \['lead', 'worker'\]\)"),
])
def test_spawn_refuses_a_bad_command_as_a_mob_error(member_id: Any, profile: str, match: str) -> None:
    with pytest.raises(MobError, match=match) as info:
        decide_unchanged(state_in(S.RUNNING), Spawn(member_id, profile, "s-x", AT))
    assert not isinstance(info.value, InvalidTransition)  # the mob's status allows it; the command is wrong


def test_spawn_in_a_running_mob_without_a_definition_is_an_error_not_a_crash() -> None:
    odd = fold_mob("m", [ev.MOB_RESUMED(at_ms=1)])  # running, but no mob_created was ever recorded
    with pytest.raises(MobError, match="no definition"):
        decide(odd, Spawn("a", "worker", "s", AT))


# -- retire -------------------------------------------------------------------------------------------


def test_retire_is_idempotent_and_allowed_in_any_status() -> None:
    running = state_in(S.RUNNING)
    [retired] = decide_unchanged(running, Retire("a", AT))
    assert retired.data == {"member_id": "a", "at_ms": AT}
    after = evolve_mob(running, retired)
    assert decide(after, Retire("a", AT)) == []
    assert decide(running, Retire("never-was", AT)) == []
    orphaned = fold_mob("m", [_spawned("a")])  # creating, yet with a member
    assert types_of(decide(orphaned, Retire("a", AT))) == ["member_retired"]


# -- wire / unwire -------------------------------------------------------------------------------------


def test_wire_and_unwire_payloads_and_idempotence_in_either_order() -> None:
    state = state_in(S.RUNNING)  # a-b wired, c not
    [wired] = decide_unchanged(state, Wire("c", "a", AT))
    assert wired.data == {"a": "c", "b": "a", "at_ms": AT}
    assert decide(state, Wire("a", "b", AT)) == [] and decide(state, Wire("b", "a", AT)) == []
    [unwired] = decide_unchanged(state, Unwire("b", "a", AT))
    assert unwired.data == {"a": "b", "b": "a", "at_ms": AT}
    assert decide(state, Unwire("a", "c", AT)) == []


@pytest.mark.parametrize("command", [Wire, Unwire])
def test_wire_refuses_itself_unknown_and_broken_members(command: Callable[[str, str, int], MobCommand]) -> None:
    state = state_in(S.RUNNING)
    with pytest.raises(MobError, match="cannot wire member 'a' to itself"):
        decide_unchanged(state, command("a", "a", AT))
    with pytest.raises(MobError, match="mob 'm' has no member 'zz'"):
        decide_unchanged(state, command("zz", "a", AT))
    with pytest.raises(MobError, match="mob 'm' has no member 'zz'"):
        decide_unchanged(state, command("a", "zz", AT))
    with pytest.raises(MobError, match="member 'b' is broken: restore failed: gone"):
        decide_unchanged(state, command("a", "b", AT), {"b": "gone"})
    # Only the broken member is refused: a and c still wire (and are not wired yet, so unwire is a no-op).
    assert types_of(decide(state, command("a", "c", AT), {"b": "gone"})) == (["peers_wired"] if command is Wire else [])


# -- turns ---------------------------------------------------------------------------------------------


def test_check_turn_gives_the_members_session_or_refuses() -> None:
    state = state_in(S.RUNNING)
    assert rules.check_turn(state, "a") == "s-a"
    with pytest.raises(MobError, match="mob 'm' has no member 'zz'"):
        rules.check_turn(state, "zz")
    with pytest.raises(MobError, match="member 'a' of mob 'm' is broken: restore failed: lost"):
        rules.check_turn(state, "a", {"a": "lost"})
    with pytest.raises(InvalidTransition, match="cannot run a turn while stopped") as info:
        rules.check_turn(state_in(S.STOPPED), "a")
    assert (info.value.from_state, info.value.to_state) == (S.STOPPED, S.RUNNING)


# -- lifecycle ---------------------------------------------------------------------------------------


def test_resume_requires_durable_sessions_unless_allowed() -> None:
    stopped = state_in(S.STOPPED)
    with pytest.raises(MobError, match=r"persistent-session contract \(REQ-MOB-030\); pass allow_ephemeral_sessions=True"):
        decide_unchanged(stopped, Resume(AT, durable_sessions=False, allow_ephemeral=False))
    assert types_of(decide(stopped, Resume(AT, durable_sessions=False, allow_ephemeral=True))) == ["mob_resumed"]
    with pytest.raises(InvalidTransition):  # the status is checked first
        decide(state_in(S.RUNNING), Resume(AT, durable_sessions=False, allow_ephemeral=False))


def test_complete_reset_and_destroy_retire_everyone_first_and_leave_an_empty_roster() -> None:
    state = state_in(S.RUNNING)
    for command, status in [(Complete(AT), S.COMPLETED), (Reset(AT), S.RUNNING), (Destroy(AT), S.DESTROYED)]:
        events = decide_unchanged(state, command)
        assert [e.data["member_id"] for e in events if e.type == "member_retired"] == ["a", "b", "c"]
        after = state
        for e in events:
            after = evolve_mob(after, e)
        assert after.roster == {} and after.status is status
        assert after.epoch == state.epoch + (command == Reset(AT))


def test_reset_repeats_the_definition_for_the_new_epoch() -> None:
    events = decide(state_in(S.COMPLETED), Reset(AT))
    assert [e.data for e in events] == [{"definition": DEF.to_dict(), "at_ms": AT}, {"at_ms": AT}]


def test_something_that_is_not_a_command_is_refused() -> None:
    with pytest.raises(MobError, match="not a mob command"):
        decide(state_in(S.RUNNING), "stop")  # type: ignore[arg-type]


# -- folding decided events (hypothesis) ------------------------------------------------------------

MEMBERS = ["lead", "w1", "w2", "x"]
ALLOWED: dict[type, set[MobStatus]] = {
    Create: {S.CREATING}, Spawn: {S.RUNNING}, Retire: set(ALL), Wire: {S.RUNNING}, Unwire: {S.RUNNING},
    Stop: {S.RUNNING}, Resume: {S.STOPPED}, Complete: {S.RUNNING, S.STOPPED},
    Reset: {S.RUNNING, S.STOPPED, S.COMPLETED}, Destroy: set(ALL) - {S.DESTROYED},
}
AFTER: dict[type, MobStatus] = {Create: S.RUNNING, Stop: S.STOPPED, Resume: S.RUNNING, Complete: S.COMPLETED,
                                Reset: S.RUNNING, Destroy: S.DESTROYED}

member = st.sampled_from(MEMBERS)
command_plans = st.lists(st.one_of(
    st.just(("create",)),
    st.tuples(st.just("spawn"), member, st.sampled_from(["lead", "worker", "nobody"])),
    st.tuples(st.just("retire"), member),
    st.tuples(st.sampled_from(["wire", "unwire"]), member, member),
    st.tuples(st.sampled_from(["stop", "resume", "complete", "reset", "destroy"])),
), max_size=40)


def _command(plan: tuple[Any, ...], n: int) -> MobCommand:
    at = AT + n
    match plan:
        case ("create",):
            return Create(DEF, at)
        case ("spawn", m, profile):
            return Spawn(m, profile, f"session-{n}", at, {"n": n})
        case ("retire", m):
            return Retire(m, at)
        case ("wire", a, b):
            return Wire(a, b, at)
        case ("unwire", a, b):
            return Unwire(a, b, at)
    return {"stop": Stop(at), "resume": Resume(at, True, False), "complete": Complete(at), "reset": Reset(at),
            "destroy": Destroy(at)}[plan[0]]


def _check_roster(state: MobState) -> None:
    roster = state.roster
    for m, entry in roster.items():
        assert entry.member_id == m
        assert m not in entry.wired_to
        assert all(m in roster[p].wired_to for p in entry.wired_to)  # wires are symmetric, between members
        assert entry.labels["mob_id"] == "m" and entry.labels["member_id"] == m and entry.labels["role"] == entry.profile
    assert len({e.session_id for e in roster.values()}) == len(roster)


@settings(max_examples=300, deadline=None)
@given(command_plans)
def test_folding_decided_events_keeps_a_consistent_roster(plans: list[tuple[Any, ...]]) -> None:
    state = MobState("m")
    for n, plan in enumerate(plans):
        command = _command(plan, n)
        before = state
        try:
            events = decide_unchanged(state, command)
        except InvalidTransition as e:
            assert state.status not in ALLOWED[type(command)], f"{command} refused in {state.status}"
            assert e.from_state is state.status
            continue
        except MobError:
            assert state.status in ALLOWED[type(command)]  # a wrong command, in a status that allows it
            assert isinstance(command, Spawn | Wire | Unwire)
            continue
        assert state.status in ALLOWED[type(command)], f"{command} accepted in {state.status}"
        for event in events:
            state = evolve_mob(state, event)
        assert state.seq == before.seq + len(events)
        assert state.status is AFTER.get(type(command), before.status)
        _check_roster(state)
        match command:
            case Spawn(m, profile, session_id):
                assert state.roster[m].session_id == session_id and state.roster[m].profile == profile
                peers = {b if a == m else a for a, b in DEF.wiring if m in (a, b)} & set(before.roster)
                assert state.roster[m].wired_to == peers
            case Retire(m):
                assert m not in state.roster
            case Wire(a, b):
                assert b in state.roster[a].wired_to
            case Unwire(a, b):
                assert b not in state.roster[a].wired_to
            case Complete() | Reset() | Destroy():
                assert state.roster == {}
                assert state.epoch == before.epoch + isinstance(command, Reset)
            case _:
                assert state.roster == before.roster
