"""verify (and the other commands) on good and damaged journals.

Damage is made two ways: bytes overwritten with LMDB directly (allowed for corruption tests
only), and journals copied event by event with the public API with one value changed.
"""

from __future__ import annotations

import copy

import lmdb
import pytest

import journal
from mob_actors.core.snapshots import materialize, parts_stream

from replay_helpers import World

U64 = 8


def position_of(path: str, session_id: str, seq: int) -> int:
    with journal.open(path, readonly=True) as j:
        return next(iter(j.read(f"session:{session_id}", from_seq=seq, to_seq=seq))).position


def raw_env(path: str) -> lmdb.Environment:
    return lmdb.open(path, max_dbs=5, subdir=True)


def overwrite_event(path: str, position: int, value: bytes) -> None:
    env = raw_env(path)
    try:
        events = env.open_db(b"events", create=False)
        with env.begin(write=True) as txn:
            assert txn.get(position.to_bytes(U64, "big"), db=events) is not None
            txn.put(position.to_bytes(U64, "big"), value, db=events)
    finally:
        env.close()


def edit_event(path: str, position: int, old: bytes, new: bytes) -> None:
    """Replace the first ``old`` inside one stored record (same length: the record still decodes),
    and re-seal its checksum: a record written wrong, not damaged on disk (that is CorruptRecord)."""
    assert len(old) == len(new)
    env = raw_env(path)
    try:
        events = env.open_db(b"events", create=False)
        key = position.to_bytes(U64, "big")
        with env.begin(write=True) as txn:
            value = txn.get(key, db=events)
            assert old in value
            edited = value.replace(old, new, 1)
            if journal.codec.is_sealed(edited):
                edited = journal.codec.seal(edited[:-6])  # drop the old CRC element, append a new one
            txn.put(key, edited, db=events)
    finally:
        env.close()


def test_verify_ok_on_what_the_services_wrote(world: World, run) -> None:
    r = run("verify", world.path, "--json")
    assert r.code == 0, r.out + r.err
    d = r.json()
    assert d["ok"] and d["bad"] == 0
    assert d["sessions_checked"] == 6 and d["mobs_checked"] == 1
    assert d["events_checked"] == 42 and d["storage"]["ok"] and d["storage"]["positions_checked"]
    assert not d["storage"]["full_scan"]
    chat = next(s for s in d["streams"] if s["id"] == world.chat)
    assert chat["snapshots"] >= 3 and chat["message_count"] == len(world.final[world.chat]["messages"])
    state = run("state", world.path, world.chat, "--json").json()
    assert chat["digest"] == state["digest"]

    plain = run("verify", world.path)
    assert plain.code == 0 and "OK" in plain.out and plain.err == ""
    one = run("verify", world.path, world.chat, "--json").json()
    assert [s["id"] for s in one["streams"]] == [world.chat] and not one["storage"]["positions_checked"]
    full = run("verify", world.path, "--storage", "--json").json()
    assert full["ok"] and full["storage"]["full_scan"] and full["storage"]["records_scanned"] == 42


def test_verify_in_worker_processes_gives_the_same_report(world: World, run) -> None:
    one = run("verify", world.path, "--json", "--jobs", "1").json()
    two = run("verify", world.path, "--json", "--jobs", "2").json()
    assert (one.pop("processes"), two.pop("processes")) == (1, 2)
    assert one == two


def test_garbage_record_is_reported_everywhere_and_nothing_crashes(world_copy: World, run) -> None:
    w = world_copy
    pos = position_of(w.path, w.chat, 11)
    overwrite_event(w.path, pos, b"\xc1 this is not msgpack")

    r = run("verify", w.path, "--json")
    assert r.code == 1
    d = r.json()
    bad = {s["id"]: s for s in d["streams"] if not s["ok"]}
    assert set(bad) == {w.chat}
    div = bad[w.chat]["divergence"]
    assert (div["kind"], div["seq"], div["position"]) == ("damaged", 11, pos)
    assert d["storage"]["problems"] == []  # the record is indexed: the session's divergence says it all
    full = run("verify", w.path, "--storage", "--json").json()
    assert [(p["kind"], p["position"]) for p in full["storage"]["problems"]] == [("undecodable", pos)]
    plain = run("verify", w.path)
    assert plain.code == 1 and "FAILED" in plain.out and f"session:{w.chat}" in plain.out
    assert plain.err.count("\n") == 1

    # ls goes on past it and names the record.
    ls = run("ls", w.path, "--json")
    assert ls.code == 1
    assert [(x["stream_id"], x["seq"], x["position"]) for x in ls.json()["damaged"]] == [(f"session:{w.chat}", 11, pos)]
    assert len(ls.json()["entries"]) == 7
    # show marks it and shows the rest.
    show = run("show", w.path, w.chat, "--json")
    assert show.code == 1
    events = show.json()["events"]
    assert [e["seq"] for e in events] == list(range(1, 24))
    assert events[10]["damaged"] and events[10]["position"] == pos
    assert "DAMAGED RECORD" in run("show", w.path, w.chat).out
    # The state before it still rebuilds; a replay through it cannot and says so in one line.
    assert run("state", w.path, w.chat, "--at", 10).code == 0
    assert run("html", w.path, w.chat, "-o", f"{w.path}.html").code == 1
    # Other sessions are unaffected.
    assert run("state", w.path, w.archived).code == 0
    assert run("export", w.path, w.chat, "-o", f"{w.path}.jsonl").code == 1


def test_a_changed_message_byte_fails_the_digest_of_its_turn(world_copy: World, run) -> None:
    w = world_copy
    pos = position_of(w.path, w.chat, 15)  # the turn "question 2"
    edit_event(w.path, pos, b"question 2", b"question X")  # the user message comes first
    d = run("verify", w.path, "--json").json()
    div = next(s for s in d["streams"] if s["id"] == w.chat)["divergence"]
    assert (div["kind"], div["seq"]) == ("digest", 15)
    full = run("verify", w.path, "--storage", "--json").json()
    assert full["storage"]["ok"]  # the record is well-formed: only the replay can tell


def test_missing_index_entry_is_a_seq_gap_and_an_orphan(world_copy: World, run) -> None:
    w = world_copy
    pos = position_of(w.path, w.chat, 14)
    env = raw_env(w.path)
    try:
        index = env.open_db(b"index", create=False)
        with env.begin(write=True) as txn:
            assert txn.delete(f"session:{w.chat}".encode() + b"\x00" + (14).to_bytes(U64, "big"), db=index)
    finally:
        env.close()
    d = run("verify", w.path, "--json").json()
    div = next(s for s in d["streams"] if s["id"] == w.chat)["divergence"]
    assert (div["kind"], div["seq"]) == ("seq_gap", 14)
    # The record the index lost is still stored: the position check finds it unclaimed.
    assert [(p["kind"], p["position"], p["seq"]) for p in d["storage"]["problems"]] == [("orphan_event", pos, 14)]


def test_orphan_and_beyond_head_records_are_found_by_the_position_check(world_copy: World, run) -> None:
    w = world_copy
    with journal.open(w.path, readonly=True) as j:
        head = j.head()
        template = next(iter(j.read(f"session:{w.chat}", to_seq=1)))
    env = raw_env(w.path)
    try:
        events = env.open_db(b"events", create=False)
        with env.begin(write=True) as txn:
            value = txn.get(template.position.to_bytes(U64, "big"), db=events)
            txn.put((head + 1).to_bytes(U64, "big"), value, db=events)  # a copy no index knows, past the head
    finally:
        env.close()
    d = run("verify", w.path, "--json").json()
    assert d["bad"] == 0
    assert [(p["kind"], p["position"]) for p in d["storage"]["problems"]] == [("head", head + 1)]
    assert run("verify", w.path).code == 1


def copy_session(src: str, dst: str, session_id: str, change=None, snapshots: bool = True) -> None:
    """Copy one session stream (and its snapshots) with the public journal API, ``change(seq, data)`` on the way."""
    stream = f"session:{session_id}"
    with journal.open(src, readonly=True) as a, journal.open(dst) as b:
        out = []
        for e in a.read(stream):
            data = copy.deepcopy(e.data)
            if change is not None:
                change(e.seq, data)
            out.append(journal.Event(e.type, data, e.metadata, e.tags, e.version))
        b.append(stream, out, expected_seq=journal.NO_STREAM)
        for snapshot_stream in ((stream, parts_stream(stream)) if snapshots else ()):  # heads and their message parts
            upper = None
            while (snap := a.load_snapshot(snapshot_stream, max_seq=upper)) is not None:
                b.save_snapshot(snapshot_stream, snap.seq, snap.state)
                upper = snap.seq - 1


def test_tampered_turn_digest_is_found_at_its_seq(world: World, tmp_path, run) -> None:
    target = str(tmp_path / "tampered")

    def change(seq: int, data: dict) -> None:
        if seq == 13:
            data["digest"] = "0" * 64

    copy_session(world.path, target, world.chat, change)
    r = run("verify", target, "--json")
    assert r.code == 1
    div = r.json()["streams"][0]["divergence"]
    assert (div["kind"], div["seq"]) == ("digest", 13)
    assert "0000000000" in div["detail"]
    assert "run `mob-replay verify`" not in div["detail"]  # this is verify: no advice to run it
    plain = run("verify", target)
    assert "13" in plain.out and "digest" in plain.out
    assert "run `mob-replay verify`" not in plain.out + plain.err
    # Rebuilding through it fails with the reason (from the snapshot at 11: the one at 15 and later
    # would skip it, as recovery does); before it, it works.
    state = run("state", target, world.chat, "--at", 14)
    assert state.code == 1 and "seq 13" in state.err and state.err.count("\n") == 1
    assert run("state", target, world.chat, "--at", 12).code == 0


def test_tampered_message_count_is_found(world: World, tmp_path, run) -> None:
    target = str(tmp_path / "tampered-count")

    def change(seq: int, data: dict) -> None:
        if seq == 3:
            data["message_count"] += 1

    copy_session(world.path, target, world.chat, change, snapshots=False)
    div = run("verify", target, "--json").json()["streams"][0]["divergence"]
    assert (div["kind"], div["seq"]) == ("message_count", 3)


def test_tampered_snapshot_is_found(world: World, tmp_path, run) -> None:
    target = str(tmp_path / "bad-snapshot")
    copy_session(world.path, target, world.chat)
    with journal.open(target) as j:
        snap = j.load_snapshot(f"session:{world.chat}", max_seq=15)
        assert snap is not None and snap.seq == 15
        state = copy.deepcopy(materialize(j, f"session:{world.chat}", snap.state))  # saved back whole (format 1)
        state["messages"][1]["content"] = "something else"
        j.save_snapshot(f"session:{world.chat}", 15, state)
    r = run("verify", target, "--json")
    assert r.code == 1
    div = r.json()["streams"][0]["divergence"]
    assert (div["kind"], div["seq"]) == ("snapshot", 15)
    assert "message 1" in div["detail"]


def test_verify_export_file(world: World, tmp_path, run) -> None:
    path = tmp_path / "chat.jsonl"
    assert run("export", world.path, world.chat, "-o", path).code == 0
    r = run("verify", path, "--json")
    assert r.code == 0 and r.json()["streams"][0]["warnings"] == []
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace('"digest": "', '"digest": "f')
    path.write_text("\n".join(lines) + "\n")
    assert run("verify", path).code == 1


def test_a_destroyed_mob_leaves_no_false_alarm(world_copy: World, run) -> None:
    from mob_actors.mobs.runtime import MobRuntime
    from mob_actors.testing import EchoAgent

    with MobRuntime.open(world_copy.path, EchoAgent()) as runtime:
        runtime.mob("team").destroy()  # deletes the mob's earlier events: their positions are gone
    d = run("verify", world_copy.path, "--json").json()
    assert d["ok"], d
    mob = next(s for s in d["streams"] if s["kind"] == "mob")
    assert mob["ok"]
    assert run("mob", world_copy.path, "team", "--json").json()["status"] == "destroyed"


@pytest.mark.parametrize("command", ["ls", "verify"])
def test_progress_is_silent_on_a_pipe(world: World, command: str, run) -> None:
    r = run(command, world.path)
    assert r.code == 0 and r.err == "" and "\x1b[" not in r.out
