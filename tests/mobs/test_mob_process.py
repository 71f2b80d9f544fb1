"""A host process with two mobs running turns is killed with SIGKILL; a new runtime on the same
journal brings back every mob, member, wire and acknowledged turn, and no half turn.

What can be asserted precisely: a turn the host printed ``ACK`` for had returned from ``turn()``,
so it is durable and must be back. A turn in flight at the kill may or may not have committed
(it can commit after the host stopped printing, or between the commit and the print), so each
member has either exactly its acknowledged turns or those plus the one that was in flight - and
either way only whole user/assistant pairs.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from mob_actors import MemberState, MobStatus
from mob_actors.testing import ScriptedAgent

from support import Lines, spawn

WIRES = {"red": {("boss", "r1"), ("boss", "r2")}, "blue": {("chief", "b1"), ("b2", "b3")}}
SYSTEM = {"lead": "You lead.", "worker": "You work."}
TARGET_ACKS = 60
HOST = Path(__file__).with_name("host_script.py")


def parse_ack(line: str) -> tuple[str, str, str, str]:
    _, mob_id, member_id, prompt, reply = line.split()
    return mob_id, member_id, prompt, reply


def test_sigkilled_host_loses_no_acknowledged_turn_and_keeps_no_half_turn(open_runtime, jpath) -> None:
    proc = spawn(HOST, jpath)
    lines = Lines(proc)
    seen_acks = 0
    deadline = time.monotonic() + 30
    try:
        while seen_acks < TARGET_ACKS:
            if lines.line(timeout=max(0.1, deadline - time.monotonic())).startswith("ACK "):
                seen_acks += 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    # Every complete line printed before the kill counts, including those not read yet.
    printed = lines.finish()
    ready = next((json.loads(line[len("READY "):]) for line in printed if line.startswith("READY ")), None)
    acks = [parse_ack(line) for line in printed if line.startswith("ACK ")]
    proc.stderr.close()
    proc.stdout.close()
    assert ready is not None and len(acks) >= TARGET_ACKS

    acked: dict[tuple[str, str], list[int]] = {}
    for mob_id, member_id, prompt, reply in acks:
        assert reply == f"echo:_{prompt}"
        acked.setdefault((mob_id, member_id), []).append(int(prompt.rsplit(".", 1)[1]))

    agent = ScriptedAgent(default="after the crash")
    runtime = open_runtime(agent)
    assert runtime.journal.verify().ok
    assert [m.mob_id for m in runtime.list_mobs()] == ["blue", "red"]
    for mob_id, sessions in ready.items():
        mob = runtime.mob(mob_id)
        assert mob.status() is MobStatus.RUNNING
        members = {m.member_id: m for m in mob.members()}
        assert {m: members[m].session_id for m in members} == sessions
        assert all(m.state is MemberState.ACTIVE for m in members.values())
        wires = {(a, b) for a in members for b in members[a].wired_to}
        assert wires == WIRES[mob_id] | {(b, a) for a, b in WIRES[mob_id]}
        for member_id, member in members.items():
            history = runtime.service.read(member.session_id).messages
            assert history[0] == {"role": "system", "content": SYSTEM[member.profile]}
            turns = history[1:]
            assert len(turns) % 2 == 0, f"{mob_id}/{member_id}: a half turn was kept"
            pairs = [(turns[i], turns[i + 1]) for i in range(0, len(turns), 2)]
            numbers = []
            for user, assistant in pairs:
                assert user["role"] == "user" and assistant["role"] == "assistant"
                assert assistant["content"] == f"echo: {user['content']}"
                numbers.append(int(user["content"].rsplit(".", 1)[1]))
            mine = acked.get((mob_id, member_id), [])
            assert mine == list(range(1, len(mine) + 1))  # each member's loop is sequential
            assert numbers == list(range(1, len(numbers) + 1))
            # Every acknowledged turn is back; at most the one in flight at the kill is extra.
            assert len(numbers) in (len(mine), len(mine) + 1), (mob_id, member_id, len(numbers), len(mine))
            assert runtime.service.load_persisted_session(member.session_id).messages == history
    assert agent.calls == []  # bringing the mobs back ran no turn
    assert runtime.mob("red").turn("r1", "next").text == "after the crash"
    assert runtime.mob("blue").turn("b3", "next").text == "after the crash"
