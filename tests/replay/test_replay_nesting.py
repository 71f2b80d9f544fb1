"""Deeply nested event data: every command reads what the library lets be written, and more;
beyond what it can read it exits 2 with a one-line reason, never a traceback or RecursionError.

The services refuse values nested deeper than ``mob_actors.core.values.MAX_DEPTH`` when they
are written; these journals are written with the journal API directly, as older code or another
program could have, to show the readers' margin above that limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import journal
from mob_actors.core.values import MAX_DEPTH

from replay_helpers import World
from support import child_env

READABLE = 256  # well above MAX_DEPTH: what every command must handle
TOO_DEEP = 1_000  # stored fine by msgpack, beyond what the tool reads


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def add_deep_session(world: World, session_id: str, levels: int) -> None:
    """A copy of the world's ``deferred`` session under ``session_id`` with deeply nested metadata,
    and a mob ``deep`` whose members carry deeply nested labels."""
    with journal.open(world.path) as j:
        events = list(j.read(f"session:{world.deferred}"))
        created = dict(events[0].data, session_id=session_id, metadata={"deep": nested(levels)})
        copies = [journal.Event(events[0].type, created)] + [journal.Event(e.type, e.data, e.metadata, e.tags, e.version) for e in events[1:]]
        j.append(f"session:{session_id}", copies)
        mob = []
        for e in j.read("mob:team"):
            data = e.data
            if e.type == "mob_created":
                data = {**data, "definition": {**data["definition"], "mob_id": "deep"}}
            if e.type == "member_spawned":
                data = {**data, "labels": {"deep": nested(levels)}}
            mob.append(journal.Event(e.type, data, e.metadata, e.tags, e.version))
        j.append("mob:deep", mob)


def commands(path: str, sid: str, tmp: Path) -> list[list[str]]:
    export = tmp / "deep.jsonl"
    return [
        ["ls", path], ["ls", path, "--json"],
        ["show", path, sid], ["show", path, sid, "--json"],
        ["state", path, sid], ["state", path, sid, "--json"],
        ["verify", path], ["verify", path, sid, "--json"],
        ["diff", path, sid, "--at", "1"], ["diff", path, sid, "--at", "1", "--json"],
        ["export", path, sid, "-o", str(export)], ["show", str(export)], ["import", str(export), str(tmp / "imported")],
        ["html", path, sid, "-o", str(tmp / "deep.html")],
        ["mob", path, "deep", "--events"], ["mob", path, "deep", "--json"],
    ]


def test_the_write_limit_is_below_what_the_readers_handle() -> None:
    assert MAX_DEPTH < READABLE


def test_every_command_reads_data_nested_256_levels(world_copy: World, tmp_path: Path, run) -> None:
    sid = "01a21183-0000-7000-8000-0000000000d1"
    add_deep_session(world_copy, sid, READABLE)
    for argv in commands(world_copy.path, sid, tmp_path):
        r = run(*argv)
        assert r.code == 0, (argv, r.err)
    state = run("state", world_copy.path, sid, "--json").json()
    assert json.dumps(state["session"]["metadata"]).count("[") == READABLE
    assert run("state", tmp_path / "imported", sid, "--json").json()["session"]["metadata"] == state["session"]["metadata"]


def test_follow_reads_data_nested_256_levels(world_copy: World) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "mob_actors.replay", "follow", world_copy.path, "--limit", "2", "--for", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    time.sleep(1.0)  # let it start following
    with journal.open(world_copy.path) as j:
        j.append("deep-log", [journal.Event("noted", {"d": nested(READABLE)}), journal.Event("noted", {"d": 1})])
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out.count("noted") == 2, err


def test_deeper_than_the_tool_reads_exits_2_with_one_line(world_copy: World, tmp_path: Path, run) -> None:
    sid = "01a21183-0000-7000-8000-0000000000d2"
    add_deep_session(world_copy, sid, TOO_DEEP)
    failed = []
    # (What reads the export file is left out: exporting this session is one of the refusals.)
    for argv in [a for a in commands(world_copy.path, sid, tmp_path) if a[0] == "export" or "deep.jsonl" not in " ".join(a)]:
        r = run(*argv)
        assert r.code in (0, 2), (argv, r.code, r.err)
        if r.code == 2:
            failed.append(argv[0])
            assert r.err.count("\n") == 1 and "nested too deeply" in r.err, (argv, r.err)
            assert "unexpected error" not in r.err and "RecursionError" not in r.err
    assert "show" in failed and "state" in failed  # the data is there to render: the limit is met


@pytest.mark.parametrize("levels", [TOO_DEEP, 5_000])
def test_an_export_file_nested_too_deeply(world: World, tmp_path: Path, run, levels: int) -> None:
    path = tmp_path / "chat.jsonl"
    assert run("export", world.path, world.deferred, "-o", path).code == 0
    lines = path.read_text().splitlines()
    created = json.loads(lines[1])
    created["data"]["metadata"] = {"deep": "[" * levels + '"leaf"' + "]" * levels}  # placeholder, replaced below
    text = json.dumps(created).replace(json.dumps(created["data"]["metadata"]["deep"]), "[" * levels + '"leaf"' + "]" * levels)
    deep = tmp_path / "deep.jsonl"
    deep.write_text("\n".join([lines[0], text, *lines[2:]]) + "\n")
    for argv in (["show", deep], ["state", deep], ["verify", deep], ["html", deep, "-o", tmp_path / "d.html"],
                 ["import", deep, tmp_path / "target"]):
        r = run(*argv)
        assert r.code == 2 and r.err.count("\n") == 1, (argv, r.code, r.err)
        assert "nested too deeply" in r.err, (argv, r.err)
