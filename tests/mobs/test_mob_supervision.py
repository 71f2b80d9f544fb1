"""Supervision: a member's session actor that dies is rebuilt from its journal with backoff;
three failures within a minute mark the member BROKEN. Nothing acknowledged is lost either way.

The actor is killed for real: a ``tell`` of a message it does not understand makes it raise on
the tell path and die. The restart is observed in pykka's registry, never through a service
method that would bring the actor back lazily by itself.
"""

from __future__ import annotations

import time

import pytest

from mob_actors import CreateSessionRequest, MemberState, MobError
from mob_actors.mobs.supervisor import BACKOFF_BASE_S, MAX_FAILURES

from mob_helpers import messages, session_actor_urns, team
from support import wait_until


def crash(runtime, session_id: str) -> tuple[str, set[str]]:
    """Kill a session's actor; return its URN and the URNs of the other session actors."""
    ref = runtime.service.actor_ref(session_id)
    others = session_actor_urns() - {ref.actor_urn}
    ref.tell(object())
    wait_until(lambda: not ref.is_alive(), 2.0, "the crashed actor to die")
    return ref.actor_urn, others


def new_actor(old_urn: str, others: set[str]) -> str | None:
    """The URN of the one session actor that is neither the crashed one nor one of ``others``."""
    fresh = session_actor_urns() - others - {old_urn}
    return next(iter(fresh)) if len(fresh) == 1 else None


def wait_restarted(old_urn: str, others: set[str], timeout: float = 1.0, message: str = "a restarted actor") -> str:
    """The URN of the one new session actor; AssertionError if none appears within ``timeout``."""
    return wait_until(lambda: new_actor(old_urn, others), timeout, message)


def assert_not_restarted(old_urn: str, others: set[str], window: float) -> None:
    """No new session actor appears during ``window`` seconds."""
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        assert new_actor(old_urn, others) is None, "a crashed actor was restarted"
        time.sleep(0.005)


def test_a_crashed_member_actor_is_restarted_from_its_journal(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker", initial_prompt="one")
    b = mob.spawn("b", "worker", initial_prompt="other")
    mob.turn("a", "two")
    history = messages(runtime, a.session_id)
    started = time.monotonic()
    old, others = crash(runtime, a.session_id)
    new = wait_restarted(old, others, message="a new actor within a second")
    elapsed = time.monotonic() - started
    assert elapsed >= BACKOFF_BASE_S * 0.9  # restarted after the backoff, not at once
    assert runtime.service.actor_ref(a.session_id).actor_urn == new  # the supervisor's, not a lazy one
    assert session_actor_urns() == others | {new}  # b's actor was untouched
    assert messages(runtime, a.session_id) == history
    assert runtime.service.load_persisted_session(a.session_id).messages == history
    member = mob.member("a")
    assert member.state is MemberState.ACTIVE and member.error is None
    assert mob.turn("a", "three").text == "echo: three"
    assert len(messages(runtime, a.session_id)) == len(history) + 2
    assert mob.member("b").state is MemberState.ACTIVE and len(messages(runtime, b.session_id)) == 3


def test_three_crashes_within_a_minute_mark_the_member_broken(open_runtime) -> None:
    runtime = open_runtime()
    mob = runtime.create_mob(team(wiring=(("a", "b"),)))
    a = mob.spawn("a", "worker", initial_prompt="keep this")
    mob.spawn("b", "worker")
    history = messages(runtime, a.session_id)
    for n in range(1, MAX_FAILURES):
        started = time.monotonic()
        old, others = crash(runtime, a.session_id)
        wait_restarted(old, others, message=f"the restart after crash {n}")
        assert time.monotonic() - started >= BACKOFF_BASE_S * 2 ** (n - 1) * 0.9  # the backoff grows
        assert mob.member("a").state is MemberState.ACTIVE
    old, others = crash(runtime, a.session_id)
    member = wait_until(lambda: (m := mob.member("a")).state is MemberState.BROKEN and m, 2.0, "the member to be marked broken")
    assert f"crashed {MAX_FAILURES} times" in member.error and "TypeError" in member.error
    assert_not_restarted(old, others, 0.3)  # no restart once broken
    assert mob.member("b").wired_to == ()  # a wire to a broken peer is not in effect
    with pytest.raises(MobError, match="restore failed"):
        mob.turn("a", "anyone?")
    with pytest.raises(MobError, match="broken"):
        mob.wire("a", "b")
    # Nothing acknowledged was lost: the journal still has it all.
    assert runtime.service.load_persisted_session(a.session_id).messages == history
    runtime.close()
    reopened = open_runtime()
    restored = reopened.mob("team").member("a")
    assert restored.state is MemberState.ACTIVE and restored.session_id == a.session_id
    assert messages(reopened, a.session_id) == history


def test_a_broken_member_is_cleared_by_respawn(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker")
    for n in range(1, MAX_FAILURES + 1):
        old, others = crash(runtime, a.session_id)
        if n < MAX_FAILURES:  # the last crash marks it broken instead
            wait_restarted(old, others, message=f"the restart after crash {n}")
    wait_until(lambda: mob.member("a").state is MemberState.BROKEN, 2.0, "the member to be marked broken")
    mob.retire("a")
    fresh = mob.spawn("a", "worker")
    assert fresh.state is MemberState.ACTIVE and fresh.error is None
    assert mob.turn("a", "ok").text == "echo: ok"
    assert runtime.service.read(a.session_id).archived  # the old session was archived by retire


def test_a_crashed_member_of_a_stopped_mob_restarts_with_its_checkpointer_still_cancelled(runtime) -> None:
    mob = runtime.create_mob(team())
    a = mob.spawn("a", "worker", initial_prompt="x")
    mob.stop()
    old, others = crash(runtime, a.session_id)
    wait_restarted(old, others)
    assert not runtime.service.checkpointer_armed(a.session_id)
    assert runtime.service.checkpoint(a.session_id) is False


def test_sessions_that_are_not_members_are_not_restarted_by_a_mob(runtime) -> None:
    mob = runtime.create_mob(team())
    mob.spawn("a", "worker")
    plain = runtime.service.create_session(CreateSessionRequest(initial_prompt="not a member"))
    old, others = crash(runtime, plain.id)
    assert_not_restarted(old, others, 0.4)
    # The service still brings it back lazily on the next access, with its history.
    assert [m["content"] for m in messages(runtime, plain.id)] == ["not a member", "echo: not a member"]


def test_crashes_of_different_members_are_counted_separately(runtime) -> None:
    mob = runtime.create_mob(team())
    sessions = {m: mob.spawn(m, "worker").session_id for m in "abc"}
    for member in "abc":
        for _ in range(MAX_FAILURES - 1):
            old, others = crash(runtime, sessions[member])
            wait_restarted(old, others)
    assert all(m.state is MemberState.ACTIVE for m in mob.members())
    assert len(session_actor_urns()) == 3  # every member's actor is back
