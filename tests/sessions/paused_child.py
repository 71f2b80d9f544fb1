"""Child process for test_session_tool_calls_crash.py: pauses a turn on a tool call, says so, then
keeps writing turns of another session until it is killed.

argv: journal_dir. Prints "paused <session_id> <call_id> <run_id>" once the paused turn is durable.
"""

from __future__ import annotations

import sys

import mob_actors as m
from mob_actors.testing import ToolAgent


def main() -> None:
    svc = m.PersistentSessionService(sys.argv[1], ToolAgent(), checkpoint_every=3)
    s = svc.create_session(m.CreateSessionRequest(system_prompt="crash test", initial_prompt="hello"))
    out = svc.apply_runtime_turn(s.id, m.new_id(), m.StartTurnRequest("tools weather clock"), "run_start", [])
    a, b = out.terminal.call_ids
    svc.submit_tool_result(s.id, b, "noon")  # one of the two results is in before the kill
    print("paused", s.id, a, out.receipt.run_id, flush=True)
    other = svc.create_session(m.CreateSessionRequest()).id
    n = 0
    while True:
        svc.start_turn(other, m.StartTurnRequest(f"turn {n}"))
        n += 1


if __name__ == "__main__":
    main()
