"""Checkpoints and their gates, snapshot-based recovery, and digest checks on replay.

Section 6 items 1, 2, 3 (as "every checkpoint_every events"), 5; section 7 B1 and the
"cancel_all blocks behind an in-flight save" hard case.
"""

from __future__ import annotations

import threading
import time

import pytest

import journal
import mob_actors as m
from mob_actors.core.recovery import recover
from mob_actors.core.snapshots import materialize
from mob_actors.testing import EchoAgent

from sessions_helpers import InThread, digest_of, event_types, stream_of
from support import wait_until


def snapshot_seq(j: journal.Journal, session_id: str) -> int | None:
    snap = j.load_snapshot(stream_of(session_id))
    return None if snap is None else snap.seq


def test_checkpoint_writes_a_snapshot_and_a_checkpointed_event(persistent, jr):
    """Item 1."""
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    assert snapshot_seq(jr, s.id) is None
    svc.start_turn(s.id, m.StartTurnRequest("two"))
    assert svc.checkpoint(s.id) is True
    snap = jr.load_snapshot(stream_of(s.id))
    assert snap.seq == 3
    snap = snap._replace(state=materialize(jr, stream_of(s.id), snap.state))  # its head and parts, whole
    assert snap.state["messages"] == svc.read(s.id).messages and len(snap.state["messages"]) == 4
    events = list(jr.read(stream_of(s.id)))
    assert [e.type for e in events] == ["session_created", "turn_applied", "turn_applied", "checkpointed"]
    cp = events[-1].data
    assert cp["snapshot_seq"] == 3 and cp["message_count"] == 4
    assert cp["digest"] == digest_of(svc.read(s.id).messages)


def test_the_checkpointer_snapshots_every_checkpoint_every_events(persistent, jr):
    """Item 3, rewritten: no snapshot before checkpoint_every events, then one, then again later."""
    svc = persistent(checkpoint_every=4)
    s = svc.create_session(m.CreateSessionRequest())  # seq 1
    svc.start_turn(s.id, m.StartTurnRequest("a"))  # 2
    svc.start_turn(s.id, m.StartTurnRequest("b"))  # 3
    time.sleep(0.05)
    assert snapshot_seq(jr, s.id) is None
    svc.start_turn(s.id, m.StartTurnRequest("c"))  # 4 -> snapshot at 4, checkpointed at 5
    wait_until(lambda: snapshot_seq(jr, s.id) == 4, message="the snapshot at seq 4")
    wait_until(lambda: event_types(jr, s.id)[-1] == "checkpointed")
    svc.start_turn(s.id, m.StartTurnRequest("d"))  # 6
    svc.start_turn(s.id, m.StartTurnRequest("e"))  # 7
    time.sleep(0.05)
    assert snapshot_seq(jr, s.id) == 4  # 7 - 4 < 4
    svc.start_turn(s.id, m.StartTurnRequest("f"))  # 8: 4 events since the snapshot at 4
    wait_until(lambda: snapshot_seq(jr, s.id) == 8, message="the snapshot at seq 8")
    wait_until(lambda: event_types(jr, s.id)[-1] == "checkpointed")
    types = event_types(jr, s.id)
    assert types == ["session_created"] + ["turn_applied"] * 3 + ["checkpointed"] + ["turn_applied"] * 3 + ["checkpointed"]


def test_cancelled_gates_write_nothing_until_rearmed(persistent, jr):
    """Items 2 and 5: after cancel_all, neither service.checkpoint nor the checkpointer writes."""
    svc = persistent(checkpoint_every=1)
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    wait_until(lambda: snapshot_seq(jr, s.id) is not None, message="the first automatic snapshot")
    wait_until(lambda: event_types(jr, s.id)[-1] == "checkpointed")
    svc.cancel_all_checkpointers()
    frozen = snapshot_seq(jr, s.id)
    for p in ("two", "three", "four"):
        svc.start_turn(s.id, m.StartTurnRequest(p))  # every turn would trigger a checkpoint
    assert svc.checkpoint(s.id) is False
    time.sleep(0.05)
    assert snapshot_seq(jr, s.id) == frozen
    assert event_types(jr, s.id)[-3:] == ["turn_applied"] * 3
    svc.rearm_all_checkpointers()
    assert svc.checkpoint(s.id) is True
    assert snapshot_seq(jr, s.id) == jr.highest_seq(stream_of(s.id)) - 1


def test_gates_new_sessions_start_armed_and_discard_archive_drop_the_gate(persistent, jr):
    svc = persistent()
    a = svc.create_session(m.CreateSessionRequest(initial_prompt="a"))
    b = svc.create_session(m.CreateSessionRequest(initial_prompt="b"))
    svc.cancel_all_checkpointers()
    c = svc.create_session(m.CreateSessionRequest(initial_prompt="c"))
    assert svc.checkpoint(a.id) is False and svc.checkpoint(b.id) is False
    assert svc.checkpoint(c.id) is True  # created after the cancel: armed
    svc.discard_live_session(a.id)
    svc.create_session(m.CreateSessionRequest(session_id=a.id))
    assert svc.checkpoint(a.id) is True  # a revived session gets a fresh, armed gate
    svc.archive(b.id)
    svc.rearm_all_checkpointers()  # b's gate is gone: nothing to rearm, no snapshot after the archive
    time.sleep(0.05)
    assert snapshot_seq(jr, b.id) is None and event_types(jr, b.id)[-1] == "archived"
    with pytest.raises(m.SessionNotFound):
        svc.checkpoint(b.id)
    assert svc.checkpoint(c.id) is True


def test_cancel_waits_for_an_in_flight_snapshot_write(persistent, jr):
    """Once cancel_all_checkpointers returns, no snapshot or checkpointed event lands, even one in flight."""
    svc = persistent(checkpoint_every=None)
    s = svc.create_session(m.CreateSessionRequest())
    big = "x" * 4096
    for i in range(150):  # a ~600 kB snapshot: each write takes a while
        svc.append_system_context(s.id, f"{i} {big}")
    stream = stream_of(s.id)
    for round_ in range(6):
        svc.rearm_all_checkpointers()
        stop = threading.Event()

        def hammer(stop: threading.Event = stop) -> int:
            written = 0
            while not stop.is_set():
                written += svc.checkpoint(s.id)
            return written

        worker = InThread(hammer)
        wait_until(lambda: event_types(jr, s.id).count("checkpointed") > 0, message="a checkpoint")
        time.sleep(0.003 * round_)
        svc.cancel_all_checkpointers()
        after_cancel = (snapshot_seq(jr, s.id), jr.highest_seq(stream))
        time.sleep(0.05)  # the hammer keeps asking; every answer must now be False
        stop.set()
        worker.result()
        assert (snapshot_seq(jr, s.id), jr.highest_seq(stream)) == after_cancel, f"round {round_}: a write landed after cancel"
        assert svc.checkpoint(s.id) is False
    # the checkpointed event of the last snapshot names it: the write was whole
    last = list(jr.read(stream))[-1]
    assert last.type == "checkpointed" and last.data["snapshot_seq"] == snapshot_seq(jr, s.id)


def test_archive_does_not_deadlock_with_a_checkpoint_queued_before_it(persistent, jr):
    """Section 7 B1 done with a lock: archive must not hold the gate while the actor still has a
    Checkpoint to process ahead of the archive (that deadlocked both). The actor is kept busy with
    a big append while a checkpoint and then the archive queue up behind it."""
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="x"))
    big = "y" * 5_000_000  # ~50-100 ms for the actor to digest, encode and fsync
    appending = InThread(lambda: svc.append_system_context(s.id, big))
    time.sleep(0.01)
    checkpointing = InThread(lambda: svc.checkpoint(s.id))  # queued behind the append
    time.sleep(0.01)
    archiving = InThread(lambda: svc.archive(s.id))  # queued behind the checkpoint
    try:
        archiving.result(timeout=10)
    except AssertionError:  # deadlocked: unstick the actor so the test can clean up, then fail
        for live in filter(None, map(svc._residency.get, svc.live_session_ids())):
            if live.gate.lock.locked():
                live.gate.lock.release()
        raise AssertionError("archive deadlocked with the checkpoint queued before it") from None
    assert appending.result() == "applied"
    assert checkpointing.result() is False  # the archive cancelled the gate before it ran
    assert event_types(jr, s.id)[-2:] == ["context_appended", "archived"]
    assert snapshot_seq(jr, s.id) is None


def test_recovery_from_events_only_equals_recovery_from_the_snapshot(persistent, jr):
    svc = persistent(checkpoint_every=3)
    s = svc.create_session(m.CreateSessionRequest(system_prompt="sys", labels={"a": "b"}))
    adapter = svc.runtime_adapter()
    for i in range(7):
        svc.start_turn(s.id, m.StartTurnRequest(f"p{i}"))
        svc.append_system_context(s.id, f"c{i}", idempotency_key=f"k{i}")
    adapter.accept_input(s.id, "pending input")
    wait_until(lambda: snapshot_seq(jr, s.id) is not None)
    svc.checkpoint(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("after the last snapshot"))
    from_snap = recover(jr, s.id, use_snapshot=True)
    from_events = recover(jr, s.id, use_snapshot=False)
    assert snapshot_seq(jr, s.id) < from_events.seq  # the snapshot path really started from a snapshot
    assert from_snap.to_snapshot() == from_events.to_snapshot()
    assert from_snap.digest.hexdigest() == from_events.digest.hexdigest() == digest_of(from_events.messages)
    assert from_events.to_session() == svc.read(s.id)
    assert from_events.seq == jr.highest_seq(stream_of(s.id))
    # to_seq: the state as of an earlier event
    early = recover(jr, s.id, to_seq=2, use_snapshot=False)
    assert early.seq == 2 and len(early.messages) == 3
    assert recover(jr, m.new_id()) is None


def copy_journal(src: journal.Journal, dst_path, alter=None) -> journal.Journal:
    """A new journal with src's session events (no snapshots); alter(event) may change one's data."""
    dst = journal.open(dst_path)
    for info in src.streams("session:"):
        events = []
        for e in src.read(info.stream_id):
            data = alter(e) if alter else e.data
            events.append(journal.Event(e.type, data, metadata=e.metadata or None, tags=e.tags, version=e.version))
        dst.append(info.stream_id, events, expected_seq=journal.NO_STREAM)
    return dst


def test_a_tampered_turn_digest_is_caught_on_replay(persistent, jr, tmp_path):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    svc.start_turn(s.id, m.StartTurnRequest("two"))
    svc.start_turn(s.id, m.StartTurnRequest("three"))
    svc.shutdown()
    turns = [e.seq for e in jr.read(stream_of(s.id)) if e.type == "turn_applied"]
    target = turns[1]

    def alter(e):
        if e.seq == target:
            return {**e.data, "digest": "0" * 64}
        return e.data

    intact = copy_journal(jr, tmp_path / "intact")
    tampered = copy_journal(jr, tmp_path / "tampered", alter)
    try:
        assert recover(intact, s.id).to_session().messages == recover(jr, s.id).to_session().messages
        with pytest.raises(m.ReplayMismatch) as ei:
            recover(tampered, s.id)
        assert ei.value.seq == target and f"seq {target}" in str(ei.value)
        assert ei.value.code == "SESSION_STORE_ERROR" and isinstance(ei.value, m.StoreError)
        svc2 = m.PersistentSessionService(tampered, EchoAgent())
        try:
            with pytest.raises(m.ReplayMismatch):
                svc2.read(s.id)
            with pytest.raises(m.ReplayMismatch):
                svc2.create_session(m.CreateSessionRequest(session_id=s.id))
            assert not svc2.has_live_session(s.id)
        finally:
            svc2.shutdown()
    finally:
        intact.close()
        tampered.close()


def test_a_tampered_checkpoint_digest_is_caught_and_snapshots_skip_old_events(persistent, jr, tmp_path):
    svc = persistent()
    s = svc.create_session(m.CreateSessionRequest(initial_prompt="one"))
    svc.start_turn(s.id, m.StartTurnRequest("two"))
    assert svc.checkpoint(s.id)
    svc.start_turn(s.id, m.StartTurnRequest("three"))
    svc.shutdown()
    cp_seq = next(e.seq for e in jr.read(stream_of(s.id)) if e.type == "checkpointed")
    first_turn = next(e.seq for e in jr.read(stream_of(s.id)) if e.type == "turn_applied")

    tampered = copy_journal(jr, tmp_path / "t1", lambda e: {**e.data, "digest": "f" * 64} if e.seq == cp_seq else e.data)
    try:
        with pytest.raises(m.ReplayMismatch) as ei:
            recover(tampered, s.id)
        assert ei.value.seq == cp_seq
    finally:
        tampered.close()

    # An event before the snapshot is not replayed when recovering from it; from events only, it is.
    early = copy_journal(jr, tmp_path / "t2", lambda e: {**e.data, "digest": "e" * 64} if e.seq == first_turn else e.data)
    try:
        snap = jr.load_snapshot(stream_of(s.id))
        early.save_snapshot(stream_of(s.id), snap.seq, materialize(jr, stream_of(s.id), snap.state))
        assert len(recover(early, s.id, use_snapshot=True).messages) == 6
        with pytest.raises(m.ReplayMismatch) as ei:
            recover(early, s.id, use_snapshot=False)
        assert ei.value.seq == first_turn
    finally:
        early.close()
