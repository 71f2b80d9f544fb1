"""Snapshots in parts (mob_actors.core.snapshots) on a real journal, without the service.

* a head plus parts loads back to exactly ``to_snapshot()`` of the state it was taken of;
* every message is written to a part once, however many snapshots refer to it;
* a rewritten conversation (system prompt put first) starts a new part with every message,
  and the older head still loads from its own parts;
* retention keeps the ``keep`` newest heads and only the parts they refer to;
* what a kill between a part and its head leaves (a part without a head) is removed by the
  next process's first snapshot.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import journal
from mob_actors.core import decide, snapshots
from mob_actors.core.model import CreateSessionRequest, RunApplyBoundary, StartTurnRequest, TurnOutcome
from mob_actors.core.state import SessionState, evolve

STREAM = "session:s1"


def _new_state(system_prompt: str | None = None) -> SessionState:
    state = None
    for event in decide.create("s1", CreateSessionRequest(system_prompt=system_prompt), 1):
        state = evolve(state, event)
    assert state is not None
    return state


def _turn(state: SessionState, k: int, system_prompt: str | None = None) -> SessionState:
    outcome = TurnOutcome([{"role": "assistant", "content": f"reply {k}"}], f"reply {k}")
    req = StartTurnRequest(f"prompt {k}", system_prompt=system_prompt)
    for event in decide.turn(state, run_id=f"r{k}", req=req, boundary=RunApplyBoundary.IMMEDIATE, input_ids=[],
                             outcome=outcome, count_sequence=True, now=k):
        state = evolve(state, event)
    return state


def _context(state: SessionState, k: int) -> SessionState:
    events, _ = decide.append_context(state, f"context {k}", None, None, False, k)
    for event in events:
        state = evolve(state, event)
    return state


def _snapshot_seqs(j: journal.Journal, stream: str) -> list[int]:
    seqs: list[int] = []
    upper = None
    while (snap := j.load_snapshot(stream, max_seq=upper)) is not None:
        seqs.append(snap.seq)
        upper = snap.seq - 1
        if upper < 1:
            break
    return sorted(seqs)


@pytest.fixture
def j(tmp_path: Path):
    with journal.open(tmp_path / "j") as jj:
        yield jj


def test_head_and_parts_load_back_to_the_state(j: journal.Journal) -> None:
    state = _new_state("be brief")
    taken: dict[int, dict] = {}
    for k in range(1, 31):
        state = _turn(state, k)
        if k % 10 == 0:
            snapshots.save(j, STREAM, state, keep=None)
            taken[state.seq] = copy.deepcopy(state.to_snapshot())
    for seq, expected in taken.items():
        loaded = snapshots.load_state(j, STREAM, max_seq=seq)
        assert loaded is not None and loaded.seq == seq
        assert loaded.to_snapshot() == expected
        assert loaded.digest.hexdigest() == decide_digest(expected["messages"])
    # every message went to a part exactly once
    parts = [j.load_snapshot(snapshots.parts_stream(STREAM), max_seq=seq) for seq in taken]
    assert [p.seq for p in parts if p] == list(taken)
    assert sum(len(snapshots.part_messages(p.state)) for p in parts if p) == len(state.messages)
    head = j.load_snapshot(STREAM).state
    assert head["format"] == snapshots.HEAD_FORMAT and "messages" not in head
    assert [n for _, n in head["message_parts"]] == [len(snapshots.part_messages(p.state)) for p in parts if p]


def test_parts_hold_canonical_json_and_loading_hashes_it_without_encoding_again(j: journal.Journal, monkeypatch) -> None:
    """A part stores the bytes the digest hashes, so a load feeds them to the digest as they are."""
    from mob_actors.core import digest

    state = _new_state("be brief")
    for k in range(1, 21):
        state = _turn(state, k)
        if k % 10 == 0:
            snapshots.save(j, STREAM, state, keep=None)
    head = j.load_snapshot(STREAM).state
    at = 0
    for part_seq, count in head["message_parts"]:
        part = j.load_snapshot(snapshots.parts_stream(STREAM), max_seq=part_seq)
        assert part.state == digest.canonical_json(state.messages[at:at + count])
        at += count

    def no_encoding(value: object) -> str:
        raise AssertionError("a load encoded messages again")

    monkeypatch.setattr(digest, "_canonical", no_encoding)
    loaded = snapshots.load_state(j, STREAM)
    monkeypatch.undo()
    assert loaded.messages == state.messages
    assert loaded.digest.hexdigest() == decide_digest(state.messages) == state.digest.hexdigest()
    # the next turn extends the loaded digest like any other
    assert _turn(loaded, 21).digest.hexdigest() == decide_digest(_turn(state, 21).messages)


def test_messages_json_would_change_are_stored_as_a_list_and_load_back_equal(j: journal.Journal) -> None:
    state = _turn(_new_state(), 1)
    state.messages.append({"role": "tool", "content": "x", "meta": {1: "int key"}})  # JSON makes the key "1"
    state.digest.extend(state.messages[-1:])
    state.seq += 1
    snapshots.save(j, STREAM, state, keep=None)
    part = j.load_snapshot(snapshots.parts_stream(STREAM), max_seq=state.seq)
    assert isinstance(part.state, list)
    loaded = snapshots.load_state(j, STREAM)
    assert loaded.messages == state.messages and loaded.digest.hexdigest() == state.digest.hexdigest()


def test_a_part_that_is_not_json_is_reported(j: journal.Journal) -> None:
    state = _turn(_new_state(), 1)
    snapshots.save(j, STREAM, state, keep=None)
    j.save_snapshot(snapshots.parts_stream(STREAM), state.seq, b"[{not json")
    with pytest.raises(snapshots.StoreError, match="malformed"):
        snapshots.load_state(j, STREAM)


def decide_digest(messages: list) -> str:
    from mob_actors.core.digest import conversation_digest

    return conversation_digest(messages)


def test_a_rewritten_conversation_starts_a_new_part_and_older_heads_keep_theirs(j: journal.Journal) -> None:
    state = _new_state()  # deferred: no turn yet, so the first turn may set the system prompt
    for k in range(5):
        state = _context(state, k)
    snapshots.save(j, STREAM, state, keep=2)
    before = copy.deepcopy(state.to_snapshot())
    first_seq = state.seq
    state = _turn(state, 1, system_prompt="you are terse")  # puts a system message at index 0
    assert state.messages[0] == {"role": "system", "content": "you are terse"}
    snapshots.save(j, STREAM, state, keep=2)
    head = j.load_snapshot(STREAM).state
    assert head["message_parts"] == [[state.seq, len(state.messages)]]
    older = snapshots.load_state(j, STREAM, max_seq=first_seq)
    assert older is not None and older.to_snapshot() == before
    assert snapshots.load_state(j, STREAM).messages == state.messages


@pytest.mark.parametrize("keep", [1, 2, 3, None])
def test_retention_keeps_the_newest_heads_and_their_parts(j: journal.Journal, keep: int | None) -> None:
    state = _new_state("sys")
    written = []
    for k in range(1, 41):
        state = _turn(state, k)
        if k % 4 == 0:
            snapshots.save(j, STREAM, state, keep=keep)
            written.append(state.seq)
    heads = _snapshot_seqs(j, STREAM)
    assert heads == (written if keep is None else written[-keep:])
    parts = _snapshot_seqs(j, snapshots.parts_stream(STREAM))
    # every kept head loads, and only the parts they need are left
    needed = set()
    for seq in heads:
        head = j.load_snapshot(STREAM, max_seq=seq).state
        needed |= {p for p, _ in head["message_parts"]}
        assert snapshots.load_state(j, STREAM, max_seq=seq).seq == seq
    assert set(parts) == needed


def test_a_new_process_removes_a_part_left_without_its_head(tmp_path: Path) -> None:
    path = tmp_path / "j"
    state = _new_state("sys")
    with journal.open(path) as j:
        for k in range(1, 11):
            state = _turn(state, k)
        snapshots.save(j, STREAM, state, keep=2)
        for k in range(11, 16):
            state = _turn(state, k)
        # What a kill after the part and before the head leaves on disk:
        j.save_snapshot(snapshots.parts_stream(STREAM), state.seq, state.messages[-10:])
        orphan = state.seq
    with journal.open(path) as j:  # a new process: it recovers from the head
        recovered = snapshots.load_state(j, STREAM)
        assert recovered is not None
        for k in range(11, 21):
            recovered = _turn(recovered, k)
        snapshots.save(j, STREAM, recovered, keep=2)
        parts = _snapshot_seqs(j, snapshots.parts_stream(STREAM))
        assert orphan not in parts
        assert parts == [p for p, _ in j.load_snapshot(STREAM).state["message_parts"]]
        assert snapshots.load_state(j, STREAM).messages == recovered.messages


def test_a_missing_part_is_a_store_error(j: journal.Journal) -> None:
    from mob_actors.core.errors import StoreError

    state = _new_state("sys")
    for k in range(1, 6):
        state = _turn(state, k)
    snapshots.save(j, STREAM, state, keep=None)
    j.delete_snapshots(snapshots.parts_stream(STREAM), max_seq=state.seq)
    with pytest.raises(StoreError, match="missing or damaged"):
        snapshots.load_state(j, STREAM)


def test_snapshots_come_further_apart_as_the_head_grows() -> None:
    """Every ``every`` events while the head is small; one event per HEAD_ENTRIES_PER_EVENT entries after."""
    state = _new_state()
    state.checkpoint_seq = 100
    state.seq = 150
    assert snapshots.due(state, 50)
    state.run_sequences = {f"r{i}": 1 for i in range(5000)}  # with run_last_seq: 10,000 entries, every 100 events
    state.run_last_seq = {f"r{i}": i for i in range(5000)}
    assert not snapshots.due(state, 50)
    state.seq = 199
    assert not snapshots.due(state, 50)
    state.seq = 200
    assert snapshots.due(state, 50)
