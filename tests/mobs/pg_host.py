"""A host process on a shared PostgreSQL journal, for the two-host tests.

Usage: pg_host.py URL owner|standby

owner:   creates (or takes over) mob "team" with a lead, prints ``READY <pid> <session_id>``, then
         runs turns in a loop, printing ``ACK <prompt>`` after each returned (so it is durable).
standby: opens a runtime (``OPENED <mobs served elsewhere as json>``), then follows commands on
         stdin: ``ask`` -> ``ELSEWHERE <host> <pid>`` or ``TOOK``; ``take <seconds>`` ->
         ``TOOK <time.monotonic() when it had the mob>``; ``turn <prompt>`` -> ``ACK <prompt>``;
         ``quit``.
"""

from __future__ import annotations

import json
import os
import sys
import time

from mob_actors import MobDefinition, MobError, MobOwnedElsewhere, MobRuntime, Profile
from mob_actors.testing import EchoAgent

url, mode = sys.argv[1], sys.argv[2]
runtime = MobRuntime.open(url, EchoAgent())


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if mode == "owner":
    try:
        mob = runtime.mob("team")
    except MobError:  # not in the journal yet
        mob = runtime.create_mob(MobDefinition("team", {"lead": Profile("lead", "You lead.")}))
        mob.spawn("lead", "lead")
    say(f"READY {os.getpid()} {mob.member('lead').session_id}")
    n = 0
    while True:
        n += 1
        mob.turn("lead", f"owner-{n}")
        say(f"ACK owner-{n}")
else:
    say("OPENED " + json.dumps(runtime.served_elsewhere()))
    mob = None
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "ask":
            try:
                mob = runtime.mob("team")
                say("TOOK")
            except MobOwnedElsewhere as e:
                say(f"ELSEWHERE {e.owner.host} {e.owner.pid}" if e.owner else "ELSEWHERE ? ?")
        elif cmd == "take":
            mob = runtime.mob("team", wait=float(arg))
            say(f"TOOK {time.monotonic()}")
        elif cmd == "turn":
            assert mob is not None
            mob.turn("lead", arg)
            say(f"ACK {arg}")
        elif cmd == "quit":
            break
    runtime.close()
    say("CLOSED")
