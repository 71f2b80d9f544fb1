"""mob-replay on pauses, rewinds and forks (issue 12): show/state/html show the pause and the
abandoned events, ls/show/html where a session or mob was forked from, verify is clean."""

from __future__ import annotations

import json

from mob_actors import CreateSessionRequest, MobDefinition, MobRuntime, PersistentSessionService, Profile, StartTurnRequest
from mob_actors.testing import ToolAgent

from support import run_python


def replay(*argv):
    return run_python("-m", "mob_actors.replay", *map(str, argv), timeout=60)


def test_pauses_rewinds_and_forks_are_shown_and_verified(tmp_path):
    path = tmp_path / "j"
    with PersistentSessionService(path, ToolAgent(), checkpoint_every=3) as svc:
        sid = svc.create_session(CreateSessionRequest(system_prompt="sys", initial_prompt="hello")).id
        out = svc.apply_runtime_turn(sid, "r1", StartTurnRequest("tool weather Oslo"), "immediate", [])
        svc.submit_tool_result(sid, out.terminal.call_id, "snow")
        svc.start_turn(sid, StartTurnRequest("thanks"))
        svc.rewind(sid, 2)
        svc.start_turn(sid, StartTurnRequest("again"))
        paused = svc.create_session(CreateSessionRequest()).id
        call = svc.apply_runtime_turn(paused, "r2", StartTurnRequest("tool clock"), "immediate", []).terminal.call_id
        fork = svc.fork_session(sid, at_seq=2).id
    with MobRuntime.open(path, ToolAgent()) as runtime:
        mob = runtime.create_mob(MobDefinition("team", {"lead": Profile("lead", "You lead.")}))
        mob.spawn("boss", "lead", initial_prompt="plan")
        mob.fork("team-b")

    shown = replay("show", path, sid, "--json")
    assert shown.returncode == 0, shown.stderr
    events = json.loads(shown.stdout)["events"]
    by_type = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e)
    rewound = by_type["rewound"][0]
    assert "rewound to seq 2" in rewound["summary"] and not rewound["abandoned"]
    assert [e["seq"] for e in events if e["abandoned"]] == list(range(3, rewound["seq"]))
    assert "awaiting its result" in by_type["turn_applied"][1]["summary"] and out.terminal.call_id in by_type["turn_applied"][1]["summary"]
    assert "tool result for call" in by_type["tool_result_submitted"][0]["summary"]
    assert "continued after its tool results" in by_type["turn_applied"][2]["summary"]
    text = replay("show", path, sid)
    assert text.returncode == 0 and "abandoned by a rewind" in text.stdout

    state = json.loads(replay("state", path, paused, "--json").stdout)
    assert state["awaiting_tool_result"] and [c["id"] for c in state["pending_tool_calls"]] == [call]
    assert "awaiting tool result" in replay("state", path, paused).stdout
    forked = json.loads(replay("state", path, fork, "--json").stdout)
    assert forked["forked_from"]["source_id"] == sid and forked["forked_from"]["seq"] == 2
    assert f"forked from session {sid} at seq 2" in json.loads(replay("show", path, fork, "--json").stdout)["events"][0]["summary"]

    ls = {e["id"]: e for e in json.loads(replay("ls", path, "--json").stdout)["entries"]}
    assert ls[fork]["forked_from"] == f"{sid}@2" and ls[sid]["forked_from"] is None
    assert ls["team-b"]["forked_from"].startswith("team@") and ls["team-b"]["members"] == 1
    assert "fork of" in replay("ls", path).stdout

    page = tmp_path / "s.html"
    assert replay("html", path, sid, "-o", page).returncode == 0
    html_text = page.read_text()
    assert "abandoned by a rewind" in html_text and "rewound" in html_text and "continued" in html_text
    fork_page = tmp_path / "f.html"
    assert replay("html", path, fork, "-o", fork_page).returncode == 0 and "forked from session" in fork_page.read_text()

    verify = replay("verify", path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
