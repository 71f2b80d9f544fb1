"""Long sessions through the service: snapshot retention, storage linear in the conversation,
receipts rendered on demand, and SIGKILL while snapshots are written and old ones deleted.

* ``keep_snapshots`` keeps that many of a session's newest snapshots (None: all), and only the
  message parts they refer to;
* a session of thousands of turns stores each message once in its snapshot parts, so what it
  takes per conversation byte does not grow with its length;
* ``CoreApplyOutput.session_snapshot`` equals a fresh serialisation of the session as it was
  right after that turn, even when read many turns later;
* a process killed while it snapshots every turn and deletes the older snapshot loses no
  acknowledged turn and leaves a journal that ``mob-replay verify`` finds clean.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from test_session_crash import check_durable, run_until_killed

import journal
import mob_actors as m
from mob_actors.core import snapshots
from mob_actors.core.recovery import recover
from mob_actors.replay.verify import verify
from mob_actors.testing import EchoAgent

from sessions_helpers import stream_of


def snapshot_seqs(j: journal.Journal, stream: str) -> list[int]:
    seqs: list[int] = []
    upper = None
    while (upper is None or upper >= 1) and (snap := j.load_snapshot(stream, max_seq=upper)) is not None:
        seqs.append(snap.seq)
        upper = snap.seq - 1
    return sorted(seqs)


def check_parts(j: journal.Journal, session_id: str, *, killed: bool = False) -> list[int]:
    """Every kept head loads whole, and the parts left are exactly those the heads refer to
    (``killed``: plus at most one above the newest head, from a kill before its head was written)."""
    stream = stream_of(session_id)
    heads = snapshot_seqs(j, stream)
    needed: set[int] = set()
    for seq in heads:
        head = j.load_snapshot(stream, max_seq=seq)
        assert head is not None and head.seq == seq
        needed |= {p for p, _ in head.state["message_parts"]}
        whole = snapshots.materialize(j, stream, head.state)
        assert whole["seq"] == seq and len(whole["messages"]) == sum(n for _, n in head.state["message_parts"])
    extra = set(snapshot_seqs(j, snapshots.parts_stream(stream))) - needed
    assert needed <= set(snapshot_seqs(j, snapshots.parts_stream(stream)))
    assert not extra or (killed and len(extra) == 1 and min(extra) > max(heads)), (extra, heads)
    return heads


@pytest.mark.parametrize("keep", [1, 2, 5, None])
def test_keep_snapshots_keeps_the_newest_and_their_parts(persistent, jr, keep) -> None:
    svc = persistent(checkpoint_every=5, keep_snapshots=keep)
    s = svc.create_session(m.CreateSessionRequest(system_prompt="sys"))
    for k in range(60):
        svc.start_turn(s.id, m.StartTurnRequest(f"turn {k}"))
    svc.shutdown()  # waits for the checkpoints queued behind the turns
    checkpoints = [e.data["snapshot_seq"] for e in jr.read(stream_of(s.id)) if e.type == "checkpointed"]
    assert len(checkpoints) >= 10
    heads = check_parts(jr, s.id)
    assert heads == (checkpoints if keep is None else checkpoints[-keep:])
    assert recover(jr, s.id).to_snapshot() == recover(jr, s.id, use_snapshot=False).to_snapshot()


@pytest.mark.parametrize("bad", [0, -1, True, "2", 1.5])
def test_keep_snapshots_must_be_a_positive_int_or_none(tmp_path: Path, bad) -> None:
    with pytest.raises(ValueError, match="keep_snapshots must be an int >= 1, or None"):
        m.PersistentSessionService(tmp_path / "j", EchoAgent(), keep_snapshots=bad)
    assert not (tmp_path / "j").exists()  # refused before the journal was opened


def test_a_long_session_stores_each_message_once_and_verifies_clean(persistent, jr, jpath) -> None:
    """2,000 turns of a 300-byte prompt and reply under the default settings."""
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest())
    per_byte = {}
    for k in range(1, 2001):
        svc.start_turn(s.id, m.StartTurnRequest(f"{k:05d} " + "p" * 294))
        if k in (500, 2000):
            size = jr.stored_size(stream_of(s.id))
            parts = jr.stored_size(snapshots.parts_stream(stream_of(s.id)))
            per_byte[k] = (size.total + parts.snapshots) / (k * 600)
    svc.shutdown()
    state = recover(jr, s.id)
    assert len(state.messages) == 4000
    heads = check_parts(jr, s.id)
    assert len(heads) == 2
    # each message is in one part only: the parts hold the conversation once
    head = jr.load_snapshot(stream_of(s.id))
    parts = [jr.load_snapshot(snapshots.parts_stream(stream_of(s.id)), max_seq=p) for p, _ in head.state["message_parts"]]
    assert len(parts) > 30 and {p.seq for p in parts} == {p for p, _ in head.state["message_parts"]}
    in_parts = [msg for p in parts for msg in snapshots.part_messages(p.state)]
    assert in_parts == state.messages[:len(in_parts)] and len(in_parts) > 3900
    # what the session takes per conversation byte does not grow with its length
    assert per_byte[2000] <= per_byte[500] * 1.05, per_byte
    # snapshots every 50 events (they come further apart only for heads of over 5,000 entries)
    cps = [e.data["snapshot_seq"] for e in jr.read(stream_of(s.id)) if e.type == "checkpointed"]
    gaps = [b - a for a, b in itertools.pairwise(cps)]
    # (2 head entries per turn: its run id in run_sequences and in run_last_seq)
    assert gaps and all(g == 50 for g in gaps), gaps  # 4,000 head entries: not yet enough to stretch them
    report = verify(str(jpath), s.id)
    assert report.ok, report
    assert [stream.snapshots for stream in report.streams] == [2]  # the kept ones were checked
    assert not [w for stream in report.streams for w in stream.warnings]


def test_the_receipt_bytes_are_the_session_as_it_was_after_its_turn(persistent) -> None:
    svc = persistent(checkpoint_every=3)
    s = svc.create_session(m.CreateSessionRequest(system_prompt="sys", metadata={"a": 1}, labels={"l": "x"}))
    outs = []
    for k in range(30):
        out = svc.apply_runtime_turn(s.id, f"run-{k}", m.StartTurnRequest(f"turn {k}"), m.RunApplyBoundary.IMMEDIATE, [])
        outs.append((out, svc.read(s.id).to_bytes()))
    assert outs[-1][0].session_snapshot == svc.read(s.id).to_bytes()
    for out, fresh in outs:  # read only now, 30 turns later: still the session right after that turn
        assert out.session_snapshot == fresh
        assert out.session_snapshot is out.session_snapshot  # rendered once
        assert m.Session.from_bytes(out.session_snapshot).messages[-1]["content"] == out.run_result.text


def test_sigkill_while_snapshots_are_written_and_old_ones_deleted(tmp_path: Path) -> None:
    """Every turn snapshots (part, head, checkpointed event, then deletes the older head and parts)."""
    rng = random.Random(99)
    jdir = str(tmp_path / "journal")
    session_id = "-"
    for _ in range(3):
        sid, start, acks = run_until_killed(jdir, session_id, rng.randint(10, 40), rng, "1", "1")
        session_id = sid
        assert acks and [n for n, _, _ in acks] == list(range(start, start + len(acks)))
        with journal.open(jdir) as j:
            assert j.verify().ok
            check_durable(j, sid, acks[-1][0])  # every acknowledged turn, no half turn
            heads = check_parts(j, sid, killed=True)
            assert 1 <= len(heads) <= 2  # a kill between a new head and the deletion leaves two
        report = verify(jdir)
        assert report.ok, report
