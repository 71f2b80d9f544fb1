"""export, offline replay of the file, and import into another journal."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

import journal
from mob_actors.replay.jsonval import from_json, to_json

from replay_helpers import BLOB, World


def test_export_then_import_gives_the_same_state(world: World, tmp_path, run) -> None:
    path = tmp_path / "chat.jsonl"
    r = run("export", world.path, world.chat, "-o", path, "--json")
    assert r.code == 0, r.err
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert (header["format"], header["version"], header["session_id"], header["events"]) == ("mob-replay-export", 1, world.chat, 21)
    assert len(lines) == 22
    created = json.loads(lines[1])
    assert created["data"]["metadata"]["blob"] == {"$bytes": "AP9yYXcgYnl0ZXMQ"}

    original = run("state", world.path, world.chat, "--json").json()
    assert header["digest"] == original["digest"]
    offline = run("state", path, "--json").json()  # the file alone, no journal
    for key in ("digest", "message_count", "session", "usage", "pending_inputs"):
        assert offline[key] == original[key], key
    at5 = run("state", path, "--at", 5, "--json").json()
    assert at5 == {**run("state", world.path, world.chat, "--at", 5, "--json").json(), "source": str(path)}

    target = tmp_path / "fresh"
    imported = run("import", path, target, "--json")
    assert imported.code == 0, imported.err
    assert imported.json()["events"] == 21
    again = run("state", target, world.chat, "--json").json()
    for key in ("digest", "message_count", "session", "usage", "pending_inputs", "seq"):
        assert again[key] == original[key], key
    with journal.open(target, readonly=True) as j:
        assert j.load_snapshot(f"session:{world.chat}") is not None  # checkpoints' snapshots rebuilt
        session = next(iter(j.read(f"session:{world.chat}")))
        assert session.data["metadata"]["blob"] == BLOB  # bytes, not a tagged dict
    v = run("verify", target, "--json")
    assert v.code == 0 and v.json()["streams"][0]["warnings"] == []
    assert run("diff", world.path, target, world.chat).code == 0

    refused = run("import", path, target)
    assert refused.code == 1 and "already exists" in refused.err and refused.err.count("\n") == 1


def test_export_file_serves_show_and_html(world: World, tmp_path, run) -> None:
    path = tmp_path / "archived.jsonl"
    assert run("export", world.path, world.archived[:13], "-o", path).code == 0
    show = run("show", path, "--json").json()
    assert [e["type"] for e in show["events"]] == ["session_created", "turn_applied", "turn_applied", "archived"]
    assert run("html", path, "-o", tmp_path / "a.html").code == 0


def test_export_to_stdout(world: World, run) -> None:
    r = run("export", world.path, world.deferred, "-o", "-")
    assert r.code == 0
    lines = r.out.splitlines()
    assert json.loads(lines[0])["events"] == 3 and len(lines) == 4


def test_import_refuses_bad_files_and_locked_journals(world: World, tmp_path, run) -> None:
    path = tmp_path / "chat.jsonl"
    run("export", world.path, world.chat, "-o", path)
    lines = path.read_text().splitlines()

    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join(lines[:10]) + "\n")
    r = run("import", truncated, tmp_path / "j1")
    assert r.code == 2 and "truncated" in r.err

    tampered = tmp_path / "tampered.jsonl"
    event = json.loads(lines[3])
    assert event["type"] == "turn_applied"
    event["data"]["messages"][0]["content"] = "changed"
    tampered.write_text("\n".join([lines[0], *lines[1:3], json.dumps(event), *lines[4:]]) + "\n")
    r = run("import", tampered, tmp_path / "j2")
    assert r.code == 1 and "do not replay" in r.err
    assert run("state", tampered).code == 1

    locked = tmp_path / "locked"
    with journal.open(locked):  # a host holds it for writing
        r = run("import", path, locked)
    assert r.code == 2 and "already open for writing" in r.err and r.err.count("\n") == 1


# Everything msgpack can store in event data, including maps that look like our tags.
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text() | st.binary()
keys = st.text() | st.integers(-1000, 1000) | st.sampled_from(["$bytes", "$map"])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(values)
def test_json_values_round_trip(value) -> None:
    encoded = json.loads(json.dumps(to_json(value)))
    assert from_json(encoded) == value


def test_nan_survives_too() -> None:
    assert math.isnan(from_json(json.loads(json.dumps(to_json({"x": float("nan")}))))["x"])
