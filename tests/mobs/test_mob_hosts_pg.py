"""Hosts sharing one PostgreSQL journal: one owner per mob, takeover when the owner dies, and
sessions outside mobs fenced by expected_seq."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import journal
from mob_actors import CreateSessionRequest, MobOwnedElsewhere, MobRuntime, PersistentSessionService, StartTurnRequest, StoreError
from mob_actors.replay import rebuild
from mob_actors.testing import EchoAgent

from mob_helpers import team
from support import Lines, run_python, spawn

HOST = Path(__file__).with_name("pg_host.py")


def _user_prompts(url: str, session_id: str) -> list[str]:
    with journal.open(url, readonly=True) as j:
        assert j.verify().ok
        session = rebuild(j, session_id)
        return [m["content"] for m in session.messages if m["role"] == "user"]


def test_a_second_host_takes_a_killed_owners_mob_over_within_2_s(pg_url):
    owner = spawn(HOST, pg_url, "owner")
    owner_lines = Lines(owner)
    standby = None
    try:
        ready = owner_lines.line(timeout=30).split()
        assert ready[0] == "READY"
        owner_pid, session_id = int(ready[1]), ready[2]
        standby = spawn(HOST, pg_url, "standby", stdin=subprocess.PIPE)
        standby_lines = Lines(standby)
        for _ in range(20):  # the owner is serving turns
            assert owner_lines.line().startswith("ACK ")
        assert standby_lines.line(timeout=30) == 'OPENED ["team"]'  # left to its owner

        standby.stdin.write("ask\n")
        standby.stdin.flush()
        assert standby_lines.line() == f"ELSEWHERE {socket.gethostname()} {owner_pid}"

        standby.stdin.write("take 20\n")  # waits for the owner to go
        standby.stdin.flush()
        time.sleep(0.2)
        owner.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        owner.wait(10)
        took = standby_lines.line(timeout=20).split()
        assert took[0] == "TOOK"
        took_after = float(took[1]) - killed
        print(f"took the mob over {took_after * 1000:.0f} ms after the owner's SIGKILL")
        assert took_after < 2.0, f"took over {took_after:.2f} s after the kill"
        acked = [line.split()[1] for line in owner_lines.finish() if line.startswith("ACK ")]

        standby.stdin.write("turn after-takeover\n")
        standby.stdin.flush()
        assert standby_lines.line() == "ACK after-takeover"
        standby.stdin.write("quit\n")
        standby.stdin.flush()
        assert standby_lines.line() == "CLOSED"
        assert standby.wait(20) == 0
    finally:
        for p in (owner, standby):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
    prompts = _user_prompts(pg_url, session_id)
    # Every acknowledged turn is there once, in order; the new owner's turn follows them.
    assert prompts[-1] == "after-takeover"
    assert len(acked) >= 20
    assert [p for p in prompts if p in set(acked)] == acked
    assert len(prompts) == len(set(prompts)), "a turn was written twice"
    assert len(prompts) <= len(acked) + 2  # at most the one in flight at the kill was stored unacknowledged


def test_two_runtimes_one_mob_one_owner(pg_url):
    """In one process too: the second runtime opens, leaves the mob, and gets it once the first closes."""
    with MobRuntime.open(pg_url, EchoAgent()) as first:
        mob = first.create_mob(team())
        mob.spawn("lead", "lead")
        mob.turn("lead", "one")
        with MobRuntime.open(pg_url, EchoAgent()) as second:
            assert second.served_elsewhere() == ["team"] and second.list_mobs() == []
            with pytest.raises(MobOwnedElsewhere) as exc:
                second.mob("team")
            assert exc.value.owner == journal.LockOwner(socket.gethostname(), os.getpid())
            assert "team" in str(exc.value) and str(os.getpid()) in str(exc.value)
            with pytest.raises(MobOwnedElsewhere):
                second.create_mob(team())  # nor can it create it over the owner
            t0 = time.monotonic()
            with pytest.raises(MobOwnedElsewhere):
                second.mob("team", wait=0.3)
            assert 0.25 < time.monotonic() - t0 < 2
            first.close()  # gives its locks up
            taken = second.mob("team")
            assert [m.member_id for m in taken.members()] == ["lead"]
            assert taken.turn("lead", "two").text
            session_id = taken.member("lead").session_id
    assert _user_prompts(pg_url, session_id) == ["one", "two"]


def test_sessions_outside_mobs_are_fenced_by_expected_seq(pg_url):
    """Two hosts on one session: the second's stale write fails clearly and its copy is dropped."""
    a = PersistentSessionService(pg_url, EchoAgent())
    b = None
    try:
        s = a.create_session(CreateSessionRequest(system_prompt="Be brief."))
        a.start_turn(s.id, StartTurnRequest("a-1"))
        b = PersistentSessionService(pg_url, EchoAgent())  # another host
        b.create_session(CreateSessionRequest(session_id=s.id))  # makes the stored session live there
        b.start_turn(s.id, StartTurnRequest("b-1"))
        with pytest.raises(StoreError, match="someone else wrote it") as exc:
            a.start_turn(s.id, StartTurnRequest("a-2"))  # a's copy is stale: refused, nothing written
        assert exc.value.session_id == s.id
        a.start_turn(s.id, StartTurnRequest("a-3"))  # its copy was dropped: rebuilt, then written
        assert [m["content"] for m in a.read(s.id).messages if m["role"] == "user"] == ["a-1", "b-1", "a-3"]
    finally:
        a.shutdown()
        if b is not None:
            b.shutdown()
    assert _user_prompts(pg_url, s.id) == ["a-1", "b-1", "a-3"]


REPLAY = "import sys; from mob_actors.replay.cli import main; sys.exit(main(sys.argv[1:]))"


def test_mob_replay_takes_a_url(pg_url):
    with MobRuntime.open(pg_url, EchoAgent()) as runtime:
        mob = runtime.create_mob(team())
        mob.spawn("lead", "lead")
        mob.turn("lead", "hello")
        session_id = mob.member("lead").session_id
    for argv, wanted in ((["ls", pg_url, "--json"], session_id), (["show", pg_url, session_id], "hello"),
                         (["mob", pg_url, "team"], "lead"), (["verify", pg_url], "")):
        res = run_python("-c", REPLAY, *argv)
        assert res.returncode == 0, (argv, res.stdout, res.stderr)
        assert wanted in res.stdout, (argv, res.stdout)
    bad = run_python("-c", REPLAY, "ls", pg_url.replace("search_path%3D", "search_path%3Dnone_"))
    assert bad.returncode == 2 and "no existing schema" in bad.stderr, bad.stderr


def test_a_host_that_loses_its_connection_loses_its_mobs(pg_url):
    """The lock lives on the connection the owner writes with: lose one, lose both."""
    from journal.postgres.ops import SessionOp

    from support import wait_until

    with MobRuntime.open(pg_url, EchoAgent()) as first, MobRuntime.open(pg_url, EchoAgent()) as second:
        mob = first.create_mob(team())
        mob.spawn("lead", "lead")
        mob.turn("lead", "one")
        session_id = mob.member("lead").session_id
        backend = first.journal._writer.submit(SessionOp(lambda conn, held: conn.info.backend_pid))
        with journal.open(pg_url) as admin:  # cut the first host's writer connection, as a network fault would
            admin._writer.submit(SessionOp(lambda conn, held: conn.execute("SELECT pg_terminate_backend(%s)", (backend,))))
        wait_until(lambda: not first.journal.holds_lock("mob:team"), timeout=5, message="the lost lock to be noticed")
        taken = second.mob("team", wait=5)  # free now: the other host takes it over
        with pytest.raises(MobOwnedElsewhere, match="lost it") as exc:
            mob.turn("lead", "stale")  # the first host's handle stops serving
        assert exc.value.owner == journal.LockOwner(socket.gethostname(), os.getpid())
        assert first.list_mobs() == []
        with pytest.raises(MobOwnedElsewhere):
            first.mob("team")
        assert taken.turn("lead", "two").text
    assert _user_prompts(pg_url, session_id) == ["one", "two"]
