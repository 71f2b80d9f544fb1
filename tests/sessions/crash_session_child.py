"""Child process for test_crash.py: runs turns on one persistent session until it is killed.

argv: journal_dir session_id|"-" [checkpoint_every keep_snapshots|"all"] (default 5 and 2)
Prints "session <id> <turns so far>" once, then "ack <n> <message_count> <text>" after each
start_turn returns (i.e. only for turns the service acknowledged as durable).
"""

from __future__ import annotations

import sys

import mob_actors as m
from mob_actors.testing import EchoAgent


def main() -> None:
    path, session_id = sys.argv[1], sys.argv[2]
    every, keep = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("5", "2")
    svc = m.PersistentSessionService(path, EchoAgent(), checkpoint_every=int(every), keep_snapshots=None if keep == "all" else int(keep))
    if session_id == "-":
        s = svc.create_session(m.CreateSessionRequest(system_prompt="crash test"))
    else:
        s = svc.create_session(m.CreateSessionRequest(session_id=session_id))  # revive
    n = (len(s.messages) - 1) // 2
    print("session", s.id, n, flush=True)
    while True:
        result = svc.start_turn(s.id, m.StartTurnRequest(f"turn {n}"))
        print("ack", n, result.message_count, result.text, flush=True)
        n += 1


if __name__ == "__main__":
    main()
