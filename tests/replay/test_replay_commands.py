"""ls, show, state, diff, mob and the library call ``rebuild``, against a journal the services wrote."""

from __future__ import annotations

import json

import pytest

import journal
from mob_actors import SessionNotFound
from mob_actors.replay import rebuild

from replay_helpers import BLOB, Result, World, console_script, run_process


def one_line_error(r: Result, code: int) -> None:
    assert r.code == code, (r.out, r.err)
    assert r.err.startswith("mob-replay: ") and r.err.count("\n") == 1, r.err


# -- ls ------------------------------------------------------------------------------------------


def test_ls_lists_sessions_and_mobs_with_their_status(world: World, run) -> None:
    r = run("ls", world.path, "--json")
    assert r.code == 0, r.err
    data = r.json()
    rows = {e["id"]: e for e in data["entries"]}
    assert rows[world.chat]["status"] == "discarded" and not rows[world.chat]["live"]
    assert rows[world.chat]["events"] == 23
    assert rows[world.archived]["status"] == "archived"
    assert rows[world.deferred]["status"] == "live" and rows[world.deferred]["live"]
    alice = rows[world.members["alice"]]
    assert (alice["kind"], alice["mob_id"], alice["member_id"], alice["profile"]) == ("session", "team", "alice", "lead")
    assert rows["team"]["kind"] == "mob" and rows["team"]["status"] == "running" and rows["team"]["members"] == 2
    assert all(e["last_activity"].endswith("Z") for e in data["entries"])
    assert data["damaged"] == []

    plain = run("ls", world.path)
    assert plain.code == 0
    assert world.chat in plain.out and "discarded" in plain.out and "archived" in plain.out
    assert "\x1b[" not in plain.out  # no colour codes on a pipe
    assert plain.err == ""  # and no progress bar


def test_ls_shows_each_sessions_size_on_disk(world: World, run) -> None:
    """Events and snapshots (heads and their message parts), as journal.stored_size counts them."""
    from mob_actors.core.snapshots import parts_stream

    rows = {e["id"]: e for e in run("ls", world.path, "--json").json()["entries"]}
    with journal.open(world.path, readonly=True) as j:
        for sid in (world.chat, world.deferred):
            stream = f"session:{sid}"
            size = j.stored_size(stream)
            assert rows[sid]["event_bytes"] == size.events > 0
            assert rows[sid]["snapshot_bytes"] == size.snapshots + j.stored_size(parts_stream(stream)).snapshots
        assert rows[world.chat]["snapshot_bytes"] > 0  # checkpoint_every=4: it has snapshots
    plain = run("ls", world.path)
    assert " kB + " in plain.out


def test_usage_errors_exit_2_with_one_line(tmp_path, run) -> None:
    one_line_error(run("ls", tmp_path / "nowhere"), 2)
    one_line_error(run("ls"), 2)
    one_line_error(run("frobnicate", tmp_path), 2)
    not_journal = tmp_path / "plain-dir"
    not_journal.mkdir()
    one_line_error(run("ls", not_journal), 2)
    (tmp_path / "notes.txt").write_text("hello\n")
    one_line_error(run("state", tmp_path / "notes.txt"), 2)
    assert run("--help").code == 0


def test_console_script_runs_in_its_own_process(world: World) -> None:
    p = run_process([*console_script(), "ls", world.path, "--json"])
    assert p.returncode == 0, p.stderr
    assert {e["id"] for e in json.loads(p.stdout)["entries"]} >= {world.chat, world.archived, "team"}
    p = run_process([*console_script(), "show", world.path, "no-such-session"])
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "not found" in p.stderr


# -- show ----------------------------------------------------------------------------------------


def test_show_timeline_summaries(world: World, run) -> None:
    r = run("show", world.path, world.chat)
    assert r.code == 0, r.err
    out = r.out
    assert '"hello there" \u2192 "echo: hello there"' in out
    assert "paused on tool lookup" in out
    assert "consumed inputs" in out and "input " in out and "accepted" in out
    assert "checkpoint: snapshot at seq" in out
    assert "discarded" in out
    assert "system context applied from ops" in out

    data = run("show", world.path, world.chat, "--json").json()
    events = data["events"]
    assert [e["seq"] for e in events] == list(range(1, 24))
    assert events[0]["type"] == "session_created"
    assert events[0]["data"]["metadata"]["blob"] == {"$bytes": "AP9yYXcgYnl0ZXMQ"}
    assert sum(e["type"] == "turn_applied" for e in events) == world.turns[world.chat]
    assert all(e["time"].endswith("Z") and e["position"] > 0 for e in events)


def test_show_range_types_and_prefix(world: World, run) -> None:
    data = run("show", world.path, world.chat[:18], "--from", 3, "--to", 9, "--json").json()
    assert data["session_id"] == world.chat
    assert [e["seq"] for e in data["events"]] == list(range(3, 10))
    data = run("show", world.path, world.chat, "--types", "checkpointed,discarded", "--json").json()
    assert {e["type"] for e in data["events"]} == {"checkpointed", "discarded"}
    one_line_error(run("show", world.path, world.chat, "--types", "nonsense"), 2)
    one_line_error(run("show", world.path, "ffffffff-0000"), 2)
    one_line_error(run("show", world.path, world.chat, "--from", "0"), 2)


# -- state ---------------------------------------------------------------------------------------


def test_state_now_matches_what_the_service_had(world: World, run) -> None:
    for sid in (world.chat, world.archived, world.deferred):
        data = run("state", world.path, sid, "--json").json()
        expected = world.final[sid]
        session = data["session"]
        assert session["messages"] == expected["messages"]
        assert session["archived"] == expected["archived"]
        assert data["message_count"] == len(expected["messages"])
    chat = run("state", world.path, world.chat, "--json").json()
    assert chat["session"]["metadata"] == {"team": "qa", "blob": {"$bytes": "AP9yYXcgYnl0ZXMQ"}}
    deferred = run("state", world.path, world.deferred, "--json").json()
    assert deferred["session"]["messages"][0] == {"role": "system", "content": "Late system prompt."}

    plain = run("state", world.path, world.chat)
    assert plain.code == 0 and "You are terse." in plain.out and chat["digest"] in plain.out


def test_state_at_a_seq(world: World, run) -> None:
    at2 = run("state", world.path, world.chat, "--at", 2, "--json").json()
    assert at2["seq"] == 2
    assert [m["role"] for m in at2["session"]["messages"]] == ["system", "user", "assistant"]
    at5 = run("state", world.path, world.chat, "--at", 5, "--json").json()  # after the paused turn
    paused = at5["session"]["messages"][-1]
    assert (paused["role"], paused["content"]) == ("assistant", "let me look that up")
    assert [(c["name"], c["arguments"]) for c in paused["tool_calls"]] == [("lookup", {"query": "the weather"})]
    at8 = run("state", world.path, world.chat, "--at", 8, "--json").json()  # the result, then the same run went on
    assert [(m["role"], m["content"]) for m in at8["session"]["messages"][-2:]] == [("tool", "sunny"), ("assistant", "the weather: sunny")]
    at10 = run("state", world.path, world.chat, "--at", 10, "--json").json()
    assert sorted(i["content"] for i in at10["pending_inputs"]) == ["first input", "second input"]
    at11 = run("state", world.path, world.chat, "--at", 11, "--json").json()
    assert at11["pending_inputs"] == []
    one_line_error(run("state", world.path, world.chat, "--at", 99), 2)


def test_rebuild_library_call(world: World) -> None:
    with journal.open(world.path, readonly=True) as j:
        session = rebuild(j, world.chat)
        assert session.messages == world.final[world.chat]["messages"]
        assert session.metadata["blob"] == BLOB
        assert len(rebuild(j, world.chat, to_seq=2).messages) == 3
        with pytest.raises(SessionNotFound):
            rebuild(j, "01a21183-0000-7000-8000-000000000000")


# -- diff ----------------------------------------------------------------------------------------


def test_diff_two_points(world: World, run) -> None:
    r = run("diff", world.path, world.chat, "--at", 2, "--at", 3, "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert (d["from"]["seq"], d["to"]["seq"]) == (2, 3)
    assert d["messages"]["removed"] == []
    assert [m["role"] for m in d["messages"]["added"]] == ["user", "assistant", "tool", "assistant"]
    assert d["fields"]["usage"][0] != d["fields"]["usage"][1]

    # The deferred session's first turn replaces nothing but adds the system prompt at index 0.
    d = run("diff", world.path, world.deferred, "--at", 1, "--json").json()
    assert d["messages"]["common_prefix"] == 0
    assert d["messages"]["added"][0] == {"role": "system", "content": "Late system prompt."}

    plain = run("diff", world.path, world.chat, "--at", 9, "--at", 11)
    assert plain.code == 0 and "+ [user] first input" in plain.out and "inputs consumed" in plain.out
    one_line_error(run("diff", world.path, world.chat), 2)


def test_diff_two_histories(world: World, world_copy: World, run, tmp_path) -> None:
    same = run("diff", world.path, world_copy.path, world.chat, "--json")
    assert same.code == 0 and same.json()["identical"] is True

    # The same session id, created anew in another journal with a different first prompt.
    other = tmp_path / "other"
    with journal.open(world.path, readonly=True) as src, journal.open(other) as dst:
        events = list(src.read(f"session:{world.chat}"))
        copied = [journal.Event(e.type, e.data, e.metadata, e.tags, e.version) for e in events[:4]]
        changed = dict(events[4].data, text="a different reply")
        copied.append(journal.Event(events[4].type, changed))
        dst.append(f"session:{world.chat}", copied)
    r = run("diff", world.path, other, world.chat, "--json")
    assert r.code == 1
    d = r.json()
    assert d["diverged_at"] == 5 and d["common_events"] == 4 and "data" in d["reason"]
    plain = run("diff", world.path, other, world.chat)
    assert "diverge at seq 5" in plain.out


# -- mob -----------------------------------------------------------------------------------------


def test_mob_roster(world: World, run) -> None:
    r = run("mob", world.path, "team", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["status"] == "running" and d["epoch"] == 0
    members = {m["member_id"]: m for m in d["members"]}
    assert set(members) == {"alice", "bob"}  # carol retired
    assert members["alice"]["wired_to"] == ["bob"] and members["bob"]["wired_to"] == ["alice"]
    assert members["alice"]["session_id"] == world.members["alice"]
    assert members["alice"]["session_status"] == "live" and members["alice"]["session_events"] == 2
    assert [e["by"] for e in d["epochs"]] == ["mob_created"]
    assert [e["type"] for e in d["events"]][-1] == "member_retired"

    plain = run("mob", world.path, "te", "--events")
    assert plain.code == 0 and "alice" in plain.out and "member carol retired" in plain.out
    one_line_error(run("mob", world.path, "nomob"), 2)


def test_mob_epochs_after_a_reset(world_copy: World, run) -> None:
    from mob_actors.mobs.runtime import MobRuntime
    from mob_actors.testing import EchoAgent

    with MobRuntime.open(world_copy.path, EchoAgent()) as runtime:
        mob = runtime.mob("team")
        mob.reset()
        mob.spawn("dave", "dev")
    d = run("mob", world_copy.path, "team", "--json").json()
    assert d["epoch"] == 1 and d["status"] == "running"
    assert [e["epoch"] for e in d["epochs"]] == [0, 1]
    assert [m["member_id"] for m in d["members"]] == ["dave"]
    ls = {e["id"]: e for e in run("ls", world_copy.path, "--json").json()["entries"]}
    assert ls[world_copy.members["alice"]]["status"] == "archived"  # retired by the reset
    assert run("verify", world_copy.path).code == 0


def test_replay_errors_are_mob_actors_errors() -> None:
    import mob_actors
    from mob_actors.replay.errors import ExportRefused, Problems, ReplayError, UsageError

    for cls in (ReplayError, UsageError, Problems, ExportRefused):
        assert issubclass(cls, mob_actors.Error), cls
    assert (UsageError.exit_code, Problems.exit_code, ExportRefused.exit_code) == (2, 1, 1)
