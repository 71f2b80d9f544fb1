"""A host process for the crash test: two mobs whose members run turns in a loop until killed.

Usage: host_script.py JOURNAL_PATH

Prints (flushed, one per line):
  READY <json {mob_id: {member_id: session_id}}>   once both mobs exist with their members and wires
  ACK <mob_id> <member_id> <prompt> <reply>         after each turn() returned (so it is durable)
The parent kills it with SIGKILL at some point; nothing here tries to shut down cleanly.
"""

from __future__ import annotations

import json
import sys
import threading

from mob_actors import MobDefinition, MobRuntime, Profile
from mob_actors.testing import EchoAgent

PROFILES = {"lead": Profile("lead", "You lead."), "worker": Profile("worker", "You work.")}
MOBS = {
    "red": (("boss", "lead"), ("r1", "worker"), ("r2", "worker")),
    "blue": (("chief", "lead"), ("b1", "worker"), ("b2", "worker"), ("b3", "worker")),
}
WIRES = {"red": [("boss", "r1"), ("boss", "r2")], "blue": [("chief", "b1"), ("b2", "b3")]}

out_lock = threading.Lock()


def say(line: str) -> None:
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main() -> None:
    runtime = MobRuntime.open(sys.argv[1], EchoAgent())
    ids: dict[str, dict[str, str]] = {}
    handles = {}
    for mob_id, members in MOBS.items():
        mob = runtime.create_mob(MobDefinition(mob_id, PROFILES))
        handles[mob_id] = mob
        ids[mob_id] = {member_id: mob.spawn(member_id, profile).session_id for member_id, profile in members}
        for a, b in WIRES[mob_id]:
            mob.wire(a, b)
    say("READY " + json.dumps(ids))

    def loop(mob_id: str, member_id: str) -> None:
        mob = handles[mob_id]
        n = 0
        while True:
            n += 1
            prompt = f"{mob_id}.{member_id}.{n}"
            result = mob.turn(member_id, prompt)
            say(f"ACK {mob_id} {member_id} {prompt} {result.text.replace(' ', '_')}")

    threads = [threading.Thread(target=loop, args=(m, member), daemon=True) for m, members in MOBS.items() for member, _ in members]
    for t in threads:
        t.start()
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main()
