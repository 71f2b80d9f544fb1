"""examples/tool_agent.py runs as the README says, and leaves a journal that verifies."""

from __future__ import annotations

import json
import re
from pathlib import Path

from support import REPO, run_python


def test_the_tool_agent_example_runs_and_verifies(tmp_path: Path) -> None:
    done = run_python(REPO / "examples" / "tool_agent.py", cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "paused on get_weather({'city': 'Oslo'})" in out and "awaiting: True" in out
    assert "run run-1 (apply 1) answered: It is snow, -3 °C there." in out
    assert "You said: Never mind. Thanks!" in out and "It is sun, 24 °C there." in out
    verify = run_python("-m", "mob_actors.replay", "verify", tmp_path / "data" / "tool-agent", "--json", timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["sessions_checked"] == 2
    session_id = re.search(r"show data/tool-agent (\S+)", out).group(1)
    show = json.loads(run_python("-m", "mob_actors.replay", "show", tmp_path / "data" / "tool-agent", session_id, "--json").stdout)
    assert [e["type"] for e in show["events"]].count("rewound") == 1 and any(e["abandoned"] for e in show["events"])
