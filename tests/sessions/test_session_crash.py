"""SIGKILL a real process mid-turns; every acknowledged turn, and no half turn, survives."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import journal
import mob_actors as m
from mob_actors.core.recovery import recover
from mob_actors.testing import EchoAgent

from sessions_helpers import stream_of
from support import Lines, spawn

CHILD = Path(__file__).with_name("crash_session_child.py")


def run_until_killed(
    jdir: str, session_id: str, min_acks: int, rng: random.Random, *child_args: str,
) -> tuple[str, int, list[tuple[int, int, str]]]:
    """Start the child, let it acknowledge at least ``min_acks`` turns, SIGKILL it mid-stream."""
    proc = spawn(CHILD, jdir, session_id, *child_args)
    lines = Lines(proc)
    try:
        _, sid, start = lines.line(30).split()
        for _ in range(min_acks):
            lines.line(20)
        time.sleep(rng.uniform(0, 0.01))  # land the kill at a random point of a turn
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    acks = []
    for line in lines.finish():
        if line.startswith("ack "):
            _, n, count, text = line.split(" ", 3)
            acks.append((int(n), int(count), text))
    proc.stdout.close()
    proc.stderr.close()
    return sid, int(start), acks


def check_durable(j: journal.Journal, session_id: str, acked_through: int) -> int:
    """The rebuilt session holds turns 0..k-1 as whole user/assistant pairs, with k covering every
    acknowledged turn plus at most the one in flight when the kill came. Returns k."""
    state = recover(j, session_id)
    msgs = state.messages
    assert msgs[0] == {"role": "system", "content": "crash test"}
    body = msgs[1:]
    assert len(body) % 2 == 0, "a half turn was stored"
    k = len(body) // 2
    for i in range(k):
        assert body[2 * i] == {"role": "user", "content": f"turn {i}"}
        assert body[2 * i + 1] == {"role": "assistant", "content": f"echo: turn {i}"}
    assert acked_through + 1 <= k <= acked_through + 2, (acked_through, k)
    # the snapshot path and the events-only path agree
    assert recover(j, session_id, use_snapshot=False).to_snapshot() == state.to_snapshot()
    return k


def test_sigkill_mid_turns_keeps_every_acknowledged_turn_and_no_half_turn(tmp_path):
    rng = random.Random(1234)
    jdir = str(tmp_path / "journal")
    session_id = "-"
    expected_start = 0
    for _round in range(3):
        sid, start, acks = run_until_killed(jdir, session_id, min_acks=rng.randint(5, 40), rng=rng)
        session_id = sid
        assert start == expected_start  # a revived child starts from what the journal holds
        assert acks, "the child acknowledged nothing"
        assert [n for n, _, _ in acks] == list(range(start, start + len(acks)))
        for n, count, text in acks:
            assert count == 1 + 2 * (n + 1) and text == f"echo: turn {n}"
        last = acks[-1][0]
        with journal.open(jdir) as j:  # the killed writer's lock is gone
            assert j.verify().ok
            k = check_durable(j, sid, last)
            assert j.load_snapshot(stream_of(sid)) is not None  # checkpoints happened on the way
        expected_start = k

    # the service in this process rebuilds the same session and carries on
    with journal.open(jdir) as j:
        svc = m.PersistentSessionService(j, EchoAgent())
        try:
            s = svc.read(session_id)
            assert len(s.messages) == 1 + 2 * expected_start
            assert [r.id for r in svc.list_sessions()] == [session_id] and not svc.has_live_session(session_id)
            svc.create_session(m.CreateSessionRequest(session_id=session_id))
            r = svc.start_turn(session_id, m.StartTurnRequest(f"turn {expected_start}"))
            assert r.message_count == 1 + 2 * (expected_start + 1)
        finally:
            svc.shutdown()
