"""A host process for the follow tests: writes turns to a journal until its stdin closes.

    python replay_host.py PATH session   # one session; prints "session <id>", then a turn every 20 ms
    python replay_host.py PATH mob       # mob "crew": prints "mob crew", then spawns members and runs
                                         # their turns, and turns of an unrelated session

It holds the journal open for writing the whole time, like a real host.
"""

from __future__ import annotations

import sys
import threading
import time

from mob_actors import CreateSessionRequest, MobDefinition, PersistentSessionService, Profile, StartTurnRequest
from mob_actors.mobs.runtime import MobRuntime
from mob_actors.testing import EchoAgent

LIMIT_S = 30.0  # never outlive a test that forgot us


def main() -> None:
    path, mode = sys.argv[1], sys.argv[2]
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    deadline = time.monotonic() + LIMIT_S
    if mode == "session":
        svc = PersistentSessionService(path, EchoAgent())
        try:
            sid = svc.create_session(CreateSessionRequest(system_prompt="host")).id
            print(f"session {sid}", flush=True)
            n = 0
            while not stop.wait(0.02) and time.monotonic() < deadline:
                svc.start_turn(sid, StartTurnRequest(f"turn {n}"))
                n += 1
        finally:
            svc.shutdown()
        return
    with MobRuntime.open(path, EchoAgent()) as runtime:
        mob = runtime.create_mob(MobDefinition("crew", {"dev": Profile("dev", "You code.")}))
        other = runtime.service.create_session(CreateSessionRequest(system_prompt="not in the mob")).id
        print("mob crew", flush=True)
        n = 0
        while not stop.wait(0.05) and time.monotonic() < deadline:
            member = f"m{n}"
            mob.spawn(member, "dev")
            mob.turn(member, f"work {n}")
            runtime.service.start_turn(other, StartTurnRequest(f"unrelated {n}"))
            n += 1


if __name__ == "__main__":
    main()
