"""A host SIGKILLed while a turn is paused on tool calls comes back paused, with nothing lost."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import mob_actors as m
from mob_actors.testing import ToolAgent

from support import Lines, run_python, spawn

CHILD = Path(__file__).with_name("paused_child.py")


def test_paused_turn_survives_sigkill_and_resumes(tmp_path):
    path = str(tmp_path / "j")
    proc = spawn(CHILD, path)
    lines = Lines(proc)
    try:
        _, sid, call_a, run_id = lines.line(30).split()
        time.sleep(0.05)  # the child is writing other turns when the kill lands
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    lines.finish()
    proc.stdout.close()
    proc.stderr.close()

    agent = ToolAgent()
    with m.PersistentSessionService(path, agent) as svc:
        s = svc.create_session(m.CreateSessionRequest(session_id=sid))
        assert s.awaiting_tool_result and [c["id"] for c in s.pending_tool_calls] == [call_a]
        assert [x["content"] for x in s.messages if x["role"] == "tool"] == ["noon"]  # the acknowledged result
        try:
            svc.start_turn(sid, m.StartTurnRequest("anything"))
            raise AssertionError("a new turn was allowed while paused")
        except m.ToolResultPending as e:
            assert e.call_ids == [call_a]
        out = svc.submit_tool_result(sid, call_a, "sunny")
        assert out.receipt.run_id == run_id and out.receipt.sequence == 1
        assert out.run_result.text == "clock said: noon; weather said: sunny"  # in the order the results came
        assert [x["role"] for x in svc.read(sid).messages] == ["system", "user", "assistant", "user", "assistant", "tool", "tool", "assistant"]
    verify = run_python("-m", "mob_actors.replay", "verify", path, "--json", timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
