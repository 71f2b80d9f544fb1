"""The pure fold over mob events (mob_state.evolve_mob / fold_mob), no actors involved."""

from __future__ import annotations

import pytest

from mob_actors import MobDefinition, MobError, MobStatus, Profile
from mob_actors.core import events as ev
from mob_actors.core.mob import MobState, evolve_mob, fold_mob

DEF = MobDefinition("m", {"w": Profile("w", "sys", {"k": 1})}, (("a", "b"),))


def created(definition: MobDefinition = DEF, at: int = 1):
    return ev.MOB_CREATED(definition=definition.to_dict(), at_ms=at)


def spawned(member: str, session: str | None = None, at: int = 2):
    return ev.MEMBER_SPAWNED(member_id=member, profile="w", session_id=session or f"s-{member}", labels={"x": member}, at_ms=at)


def test_definition_round_trips_through_its_dict() -> None:
    assert MobDefinition.from_dict(DEF.to_dict()) == DEF
    assert Profile.from_dict(Profile("p").to_dict()) == Profile("p")  # metadata None reads back equal


@pytest.mark.parametrize("bad", ["", "a\x00b", 7])
def test_definition_rejects_bad_mob_ids(bad: object) -> None:
    with pytest.raises(MobError):
        MobDefinition(bad, {})  # type: ignore[arg-type]


def test_definition_rejects_a_profile_key_that_is_not_its_name() -> None:
    with pytest.raises(MobError, match="differs"):
        MobDefinition("m", {"a": Profile("b")})


def test_a_history_without_mob_created_stays_creating_with_no_definition() -> None:
    state = fold_mob("m", [spawned("a")])
    assert state.status is MobStatus.CREATING
    assert state.definition is None
    assert "a" in state.roster  # the roster still folds; the runtime refuses to resume it


def test_fold_builds_definition_roster_and_symmetric_wiring() -> None:
    state = fold_mob("m", [created(), spawned("a"), spawned("b"), spawned("c"),
                           ev.PEERS_WIRED(a="a", b="b", at_ms=3), ev.PEERS_WIRED(a="c", b="a", at_ms=4)])
    assert state.definition == DEF
    assert state.status is MobStatus.RUNNING
    assert state.roster["a"].wired_to == {"b", "c"}
    assert state.roster["b"].wired_to == {"a"}
    assert state.roster["c"].wired_to == {"a"}
    assert state.roster["a"].session_id == "s-a" and state.roster["a"].labels == {"x": "a"}
    assert state.seq == 6 and state.updated_at_ms == 4


def test_unwire_and_retire_remove_edges_on_both_sides() -> None:
    state = fold_mob("m", [created(), spawned("a"), spawned("b"), spawned("c"),
                           ev.PEERS_WIRED(a="a", b="b", at_ms=3), ev.PEERS_WIRED(a="a", b="c", at_ms=3)])
    unwired = evolve_mob(state, ev.PEERS_UNWIRED(a="b", b="a", at_ms=5))
    assert unwired.roster["a"].wired_to == {"c"} and unwired.roster["b"].wired_to == frozenset()
    retired = evolve_mob(state, ev.MEMBER_RETIRED(member_id="c", at_ms=6))
    assert "c" not in retired.roster
    assert retired.roster["a"].wired_to == {"b"}  # no dangling edge to the retired member


def test_evolve_returns_a_new_state_and_never_changes_its_input() -> None:
    before = fold_mob("m", [created(), spawned("a")])
    roster_before = dict(before.roster)
    after = evolve_mob(before, spawned("b"))
    assert after is not before
    assert dict(before.roster) == roster_before and "b" not in before.roster
    assert set(after.roster) == {"a", "b"}
    assert before.seq == 2 and after.seq == 3


def test_lifecycle_events_set_the_status() -> None:
    state = fold_mob("m", [created()])
    assert evolve_mob(state, ev.MOB_STOPPED(at_ms=1)).status is MobStatus.STOPPED
    stopped = evolve_mob(state, ev.MOB_STOPPED(at_ms=1))
    assert evolve_mob(stopped, ev.MOB_RESUMED(at_ms=2)).status is MobStatus.RUNNING
    assert evolve_mob(state, ev.MOB_COMPLETED(at_ms=1)).status is MobStatus.COMPLETED
    destroyed = evolve_mob(evolve_mob(state, spawned("a")), ev.MOB_DESTROYED(at_ms=1))
    assert destroyed.status is MobStatus.DESTROYED and not destroyed.roster


def test_reset_starts_a_new_epoch_with_an_empty_roster_and_the_last_definition() -> None:
    new_def = MobDefinition("m", {"w": Profile("w", "v2")})
    state = fold_mob("m", [created(), spawned("a"), ev.MOB_COMPLETED(at_ms=3),
                           created(new_def, 4), ev.MOB_RESET(at_ms=4)])
    assert state.epoch == 1
    assert state.roster == {}
    assert state.status is MobStatus.RUNNING
    assert state.definition == new_def  # the last mob_created wins
    again = fold_mob("m", [created(), ev.MOB_RESET(at_ms=2), created(), ev.MOB_RESET(at_ms=3)])
    assert again.epoch == 2


def test_an_unknown_event_type_is_an_error_naming_it() -> None:
    class Odd:
        type = "mob_exploded"
        data: dict = {}

    with pytest.raises(MobError, match="mob_exploded"):
        evolve_mob(MobState("m"), Odd())
