"""``MobHandle.turn(..., request_id=...)``: the same request id twice gives one turn, also after
the runtime is closed and opened again; ``MobRuntime.open(..., mobs=[...])`` for a host that
serves only some mobs of a journal."""

from __future__ import annotations

import journal
from mob_actors import MobDefinition, Profile
from mob_actors.testing import ScriptedAgent


def turn_run_ids(j: journal.Journal) -> list[str]:
    return [e.data["run_id"] for s in j.streams("session:") for e in j.read(s.stream_id) if e.type == "turn_applied"]


def test_same_request_id_twice_is_one_turn(open_runtime, jpath):
    agent = ScriptedAgent(["done", "other"])
    runtime = open_runtime(agent)
    mob = runtime.create_mob(MobDefinition("m", {"lead": Profile("lead")}))
    mob.spawn("lead", "lead")
    first = mob.turn("lead", "do it", request_id="r-1")
    assert mob.turn("lead", "do it", request_id="r-1") == first
    mob.turn("lead", "something else", request_id="r-2")
    assert agent.calls == ["do it", "something else"]
    runtime.close()

    agent2 = ScriptedAgent()
    runtime2 = open_runtime(agent2)
    assert runtime2.mob("m").turn("lead", "do it", request_id="r-1") == first
    assert agent2.calls == []
    assert turn_run_ids(runtime2.journal) == ["r-1", "r-2"]


def test_open_with_mobs_brings_back_only_those(open_runtime):
    runtime = open_runtime()
    for mob_id in ("a", "b"):
        runtime.create_mob(MobDefinition(mob_id, {"lead": Profile("lead")})).spawn("lead", "lead")
    runtime.close()
    only_a = open_runtime(mobs=["a"])
    assert [h.mob_id for h in only_a.list_mobs()] == ["a"]
    assert only_a.mob("b").member("lead").member_id == "lead"  # asked for: taken over by replay
