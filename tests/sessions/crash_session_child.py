"""Child process for test_crash.py: runs turns on one persistent session until it is killed.

argv: journal_dir session_id|"-"
Prints "session <id> <turns so far>" once, then "ack <n> <message_count> <text>" after each
start_turn returns (i.e. only for turns the service acknowledged as durable).
"""

from __future__ import annotations

import sys

import mob_actors as m
from mob_actors.testing import EchoAgent


def main() -> None:
    path, session_id = sys.argv[1], sys.argv[2]
    svc = m.PersistentSessionService(path, EchoAgent(), checkpoint_every=5)
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
