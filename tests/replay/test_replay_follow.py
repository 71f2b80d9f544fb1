"""follow: a live tail of what another process (a host holding the journal for writing) appends."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import run_python, spawn

HOST = Path(__file__).with_name("replay_host.py")


@pytest.fixture
def host(tmp_path: Path) -> Iterator:
    """``host(mode)`` starts replay_host.py on a fresh journal; returns (path, first line words)."""
    procs: list[subprocess.Popen[str]] = []

    def start(mode: str) -> tuple[str, list[str]]:
        path = str(tmp_path / f"journal-{mode}")
        proc = spawn(HOST, path, mode, stdin=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "the host died"
        return path, line.split()

    yield start
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()  # the host's signal to stop
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_follow_a_session_while_another_process_writes(host, run) -> None:
    path, (_, sid) = host("session")
    r = run("follow", path, "--session", sid, "--limit", 5, "--for", 20, "--json")
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert len(rows) == 5
    assert {row["stream_id"] for row in rows} == {f"session:{sid}"}
    seqs = [row["seq"] for row in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 5))  # nothing skipped, in order
    assert all(row["type"] == "turn_applied" for row in rows)

    plain = run("follow", path, "--limit", 2, "--for", 20)
    assert plain.code == 0 and plain.out.count("turn_applied") == 2 and "\u2192" in plain.out


def test_follow_a_mob_and_its_new_members_in_a_child_process(host) -> None:
    path, _ = host("mob")
    # `python -m mob_actors.replay`, in its own process, reading while the host writes.
    p = run_python("-m", "mob_actors.replay", "follow", path, "--mob", "crew", "--limit", "12", "--for", "25", "--json", timeout=60)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(rows) == 12
    spawned = {r["data"]["session_id"] for r in rows if r["type"] == "member_spawned"}
    streams = {r["stream_id"] for r in rows}
    assert "mob:crew" in streams
    sessions = {s.split(":", 1)[1] for s in streams if s.startswith("session:")}
    assert sessions and sessions <= spawned | _members_before(path, rows)  # never the unrelated session
    assert all("unrelated" not in json.dumps(r["data"]) for r in rows)


def _members_before(path: str, rows: list[dict]) -> set[str]:
    """Members spawned before the tail started (their sessions are followed too)."""
    import journal

    first = rows[0]["position"]
    with journal.open(path, readonly=True) as j:
        return {e.data["session_id"] for e in j.read("mob:crew") if e.type == "member_spawned" and e.position < first}


# Starts the follow process with SIGINT as the test says (inherited through exec, as from a shell
# that ignores it: background jobs, nohup, some CI runners), whatever pytest itself was started with.
WITH_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, getattr(signal, sys.argv[1])); "
               "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])")


@pytest.mark.parametrize("inherited", ["SIG_DFL", "SIG_IGN"])
@pytest.mark.parametrize("sent", ["SIGINT", "SIGTERM"])
def test_ctrl_c_ends_follow_with_exit_0(host, inherited: str, sent: str) -> None:
    path, _ = host("session")
    proc = spawn("-c", WITH_SIGINT, inherited, "-m", "mob_actors.replay", "follow", path)
    try:
        assert proc.stdout is not None
        assert "turn_applied" in proc.stdout.readline()  # it is following
        proc.send_signal(getattr(signal, sent))
        assert proc.wait(timeout=20) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_follow_stops_after_for_seconds_with_nothing_written(world, run) -> None:
    started = time.monotonic()
    r = run("follow", world.path, "--for", "0.3")
    assert r.code == 0 and r.out == ""
    assert time.monotonic() - started < 5
