"""export, offline replay of the file, and import into another journal."""

from __future__ import annotations

import json
import math
import os
import stat
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import journal
from mob_actors import PersistentSessionService
from mob_actors.replay.jsonval import from_json, to_json
from mob_actors.testing import EchoAgent

from replay_helpers import BLOB, World


def test_export_then_import_gives_the_same_state(world: World, tmp_path, run) -> None:
    path = tmp_path / "chat.jsonl"
    r = run("export", world.path, world.chat, "-o", path, "--json")
    assert r.code == 0, r.err
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert (header["format"], header["version"], header["session_id"], header["events"]) == ("mob-replay-export", 1, world.chat, 23)
    assert len(lines) == 24
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
    assert imported.json()["events"] == 23
    again = run("state", target, world.chat, "--json").json()
    for key in ("digest", "message_count", "session", "usage", "pending_inputs", "seq"):
        assert again[key] == original[key], key
    with journal.open(target, readonly=True) as j:
        assert j.load_snapshot(f"session:{world.chat}") is not None  # checkpoints' snapshots rebuilt
        session = next(iter(j.read(f"session:{world.chat}")))
        assert session.data["metadata"]["blob"] == BLOB  # bytes, not a tagged dict
    v = run("verify", target, "--json")
    assert v.code == 0 and next(s for s in v.json()["streams"] if s["kind"] == "session")["warnings"] == []
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


# -- import: times, the import record, ids and bindings ---------------------------------------------


def test_import_keeps_the_original_times_and_records_the_import_apart(world: World, tmp_path, run) -> None:
    path = tmp_path / "chat.jsonl"
    assert run("export", world.path, world.chat, "-o", path).code == 0
    target = tmp_path / "fresh"
    before = time.time_ns() // 1_000_000
    r = run("import", path, target)
    assert r.code == 0, r.err
    assert "original times" in r.out and "mob-replay:imports" in r.out
    with journal.open(world.path, readonly=True) as src, journal.open(target, readonly=True) as dst:
        stream = f"session:{world.chat}"
        original = list(src.read(stream))
        copied = list(dst.read(stream))
        assert [e.timestamp_ms for e in copied] == [e.timestamp_ms for e in original]
        assert all(e.timestamp_ms < before for e in copied)
        assert [(e.type, e.data) for e in copied] == [(e.type, e.data) for e in original]
        (record,) = dst.read("mob-replay:imports")
    assert record.type == "session_imported" and record.timestamp_ms >= before
    assert record.data["session_id"] == world.chat and record.data["file"] == str(path)
    assert record.data["events"] == len(copied) and record.data["source"] == str(Path(world.path).resolve())
    assert record.data["binding_dropped"] is None
    shown = run("show", target, world.chat, "--json").json()["events"]
    assert [e["time"] for e in shown] == [e["time"] for e in run("show", world.path, world.chat, "--json").json()["events"]]


def _rewritten(lines: list[str], session_id: str) -> str:
    """An export file of the same events under another session id (header and session_created)."""
    header = dict(json.loads(lines[0]), session_id=session_id, stream=f"session:{session_id}")
    created = json.loads(lines[1])
    created["data"]["session_id"] = session_id
    return "\n".join([json.dumps(header), json.dumps(created), *lines[2:]]) + "\n"


def test_import_refuses_an_id_the_services_would_refuse(world: World, tmp_path, run) -> None:
    path = tmp_path / "chat.jsonl"
    run("export", world.path, world.chat, "-o", path)
    lines = path.read_text().splitlines()
    for bad in ("../../not-a-uuid", world.chat.upper()):
        crafted = tmp_path / "crafted.jsonl"
        crafted.write_text(_rewritten(lines, bad))
        target = tmp_path / "target"
        r = run("import", crafted, target)
        assert r.code == 1 and r.err.count("\n") == 1 and "nothing was imported" in r.err, r.err
        with journal.open(target, readonly=True) as j:
            assert list(j.streams()) == []


def test_import_leaves_a_binding_out_unless_asked(world: World, world_copy: World, tmp_path, run) -> None:
    alice = world.members["alice"]
    path = tmp_path / "alice.jsonl"
    assert run("export", world.path, alice, "-o", path).code == 0

    plain = tmp_path / "plain"
    r = run("import", path, plain)
    assert r.code == 0 and "--with-binding" in r.out and "member alice of mob team" in r.out, r.out
    state = run("state", plain, alice, "--json").json()
    assert state["session"]["binding"] is None
    assert state["digest"] == run("state", world.path, alice, "--json").json()["digest"]  # the conversation is whole
    with journal.open(plain, readonly=True) as j:
        assert next(iter(j.read("mob-replay:imports"))).data["binding_dropped"]["mob_id"] == "team"

    kept = tmp_path / "kept"
    r = run("import", path, kept, "--with-binding", "--json")
    assert r.code == 0 and r.json()["binding_dropped"] is None
    assert run("state", kept, alice, "--json").json()["session"]["binding"]["member_id"] == "alice"

    # A copy of alice under a new id, claiming to be member alice of the journal's own mob "team",
    # whose roster lists another session as alice: refused with the flag, plain without it.
    impostor = "01a21183-0000-7000-8000-0000000000aa"
    crafted = tmp_path / "impostor.jsonl"
    crafted.write_text(_rewritten(path.read_text().splitlines(), impostor))
    r = run("import", crafted, world_copy.path, "--with-binding")
    assert r.code == 1 and "does not list it" in r.err, r.err
    with journal.open(world_copy.path, readonly=True) as j:
        assert j.highest_seq(f"session:{impostor}") == 0
    assert run("import", crafted, world_copy.path).code == 0
    svc = PersistentSessionService(world_copy.path, EchoAgent())
    try:
        assert svc.session_belongs_to_mob(impostor, "team") is False
        assert svc.session_belongs_to_mob(world.members["alice"], "team") is True
    finally:
        svc.shutdown()


def test_export_and_html_write_safely_and_privately(world: World, tmp_path, run) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    old_umask = os.umask(0o022)
    try:
        for argv, name in ((["export", world.path, world.chat], "chat.jsonl"), (["html", world.path, world.chat], "chat.html")):
            out = tmp_path / name
            # The name the old code wrote through with a plain open(): a planted symlink there.
            (tmp_path / f"{name}.{os.getpid()}.tmp").symlink_to(victim)
            r = run(*argv, "-o", out)
            assert r.code == 0, r.err
            assert victim.read_text() == "keep me\n"
            assert stat.S_IMODE(out.stat().st_mode) == 0o600 and not out.is_symlink()
            out.write_text("stale")  # and again over an existing file: replaced, still 0600
            out.chmod(0o644)
            assert run(*argv, "-o", out).code == 0
            assert out.read_text() != "stale" and stat.S_IMODE(out.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]
    assert leftovers == []
