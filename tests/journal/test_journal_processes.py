"""Several processes on one journal: one writer only, readonly readers and subscribers beside it."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest

import journal
from journal import Event, JournalLocked

from conftest import is_pg
from support import Lines, run_python, spawn

SUBSCRIBER = Path(__file__).with_name("ro_subscriber_child.py")

TRY_WRITER = """
import sys, journal
try:
    j = journal.open(sys.argv[1])
except journal.JournalLocked as e:
    print("locked", e)
    with journal.open(sys.argv[1], readonly=True) as r:  # reading beside the writer is fine
        print("head", r.head(), [ev.data for ev in r.read("s")])
else:
    r = j.append("s", [journal.Event("e", "from-child")])
    print("wrote", r.first_seq)
    j.close()
"""

HOLD_WRITER = """
import sys, time, journal
j = journal.open(sys.argv[1])
j.append("held", [journal.Event("e", "child-1"), journal.Event("e", "child-2")])
print("ready", flush=True)
time.sleep(120)
"""


def test_second_writer_process_is_locked_out(jdir):
    with journal.open(jdir) as w:
        w.append("s", [Event("e", "parent")])
        res = run_python("-c", TRY_WRITER, jdir)
        assert res.returncode == 0, res.stderr
        first, second = res.stdout.splitlines()
        assert first.startswith("locked ")
        assert "readonly" in first  # tells the user how to read alongside the writer
        assert str(os.getpid()) in first  # and who holds the lock
        assert second == "head 1 ['parent']"
        w.append("s", [Event("e", "parent-2")])  # the writer is undisturbed
    # Once the writer has closed, another process can write.
    res = run_python("-c", TRY_WRITER, jdir)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "wrote 3"
    with journal.open(jdir, readonly=True) as r:
        assert [e.data for e in r.read("s")] == ["parent", "parent-2", "from-child"]


def test_killed_writer_releases_the_lock(jdir):
    proc = spawn("-c", HOLD_WRITER, jdir)
    lines = Lines(proc)
    try:
        assert lines.line() == "ready"
        with pytest.raises(JournalLocked, match="readonly") as exc:
            journal.open(jdir)
        assert str(proc.pid) in str(exc.value)
        with journal.open(jdir, readonly=True) as r:  # a reader is welcome meanwhile
            assert [e.data for e in r.read("held")] == ["child-1", "child-2"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with journal.open(jdir) as w:  # the OS released the dead writer's lock
        assert [e.data for e in w.read("held")] == ["child-1", "child-2"]
        assert w.append("held", [Event("e", "parent")]).first_seq == 3
        assert w.verify().ok


def _start_subscriber(jpath: str, after: int = 0, map_size: int = 0) -> tuple[subprocess.Popen, Lines, int]:
    proc = spawn(SUBSCRIBER, jpath, after, map_size, stdin=subprocess.PIPE)
    lines = Lines(proc)
    ready = lines.line()
    assert ready.startswith("ready "), ready
    return proc, lines, int(ready.split()[1])


def _stop_subscriber(proc: subprocess.Popen, lines: Lines) -> str:
    proc.stdin.close()  # the child closes its subscription from another thread
    try:
        proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.returncode == 0, err
    out = lines.finish()
    proc.stdout.close()
    return out[-1]


def test_readonly_process_subscribes_while_writer_runs(jpath):
    with journal.open(jpath) as w:
        for n in range(5):
            w.append("old", [Event("e", f"old-{n}")])
        proc, lines, head = _start_subscriber(jpath)
        assert head == 5
        # Existing events first...
        seen = [lines.line().split() for _ in range(5)]
        assert [(int(p), s, int(q)) for p, s, q, _ in seen] == [(n, "old", n) for n in range(1, 6)]
        # ...then each new event, seen by the other process soon after the append returns.
        latencies = []
        for n in range(1, 21):
            r = w.append("live", [Event("e", "v" * n)])
            appended = time.monotonic()
            arrived, line = lines.get(timeout=5)
            assert line.split() == [str(r.position), "live", str(n), str(n)]
            latencies.append(arrived - appended)
            time.sleep(0.01 * (n % 4))
        assert max(latencies) < 1.0, latencies
        assert statistics.median(latencies) < 0.25, latencies  # it polls every 50 ms
        done = _stop_subscriber(proc, lines)
    assert done == "done 25 20 20 ReadOnlyJournal"


def test_readonly_process_follows_map_growth(jdir):
    """The writer grows a tiny map many times over; a reader in another process keeps up."""
    blob = "z" * 20_000
    with journal.open(jdir, map_size=1 << 20) as w:
        w.append("live", [Event("e", "first")])
        proc, lines, _ = _start_subscriber(jdir, after=0, map_size=1 << 20)
        n = 300  # about 6 MB
        for _ in range(0, n, 10):
            w.append_batch([journal.AtomicWrite("live", [Event("e", blob)] * 5), journal.AtomicWrite("other", [Event("e", blob)] * 5)])
        total = 1 + n
        got = [lines.line(timeout=10).split() for _ in range(total)]
        assert [int(g[0]) for g in got] == list(range(1, total + 1))
        assert all(int(g[3]) == 20_000 for g in got[1:])
        done = _stop_subscriber(proc, lines)
        live = 1 + n // 2
        assert done == f"done {total} {live} {live} ReadOnlyJournal"


def test_readonly_open_of_missing_journal_in_another_process(tmp_path):
    code = """
import sys, journal
try:
    journal.open(sys.argv[1], readonly=True)
except journal.JournalError as e:
    print(type(e).__name__, "|", e)
"""
    missing = tmp_path / "missing"
    res = run_python("-c", code, missing)
    assert res.returncode == 0, res.stderr
    name, msg = res.stdout.strip().split(" | ", 1)
    assert name == "JournalError"
    assert str(missing) in msg and "no journal" in msg and "readonly" in msg
    assert not missing.exists()


FORK_CHILD = """
import os, sys, journal
j = journal.open(sys.argv[1])
j.append("s", [journal.Event("e", "before-fork")])
pid = os.fork()
if pid == 0:
    # The child inherited an open journal: every use must fail fast, none may hang or corrupt.
    results = []
    for name, call in [
        ("append", lambda: j.append("s", [journal.Event("e", "child")])),
        ("read", lambda: list(j.read("s"))),
        ("head", j.head),
        ("subscribe", j.subscribe),
    ]:
        try:
            call()
            results.append(name + ":worked")
        except journal.JournalClosed:
            results.append(name + ":JournalClosed")
    try:
        journal.open(sys.argv[1]).close()
        results.append("reopen:worked")  # PostgreSQL: a new opener, with connections of its own
    except journal.JournalLocked:
        results.append("reopen:JournalLocked")  # LMDB: the parent still holds the writer lock
    j.close()  # closing the inherited journal touches nothing of the parent's
    print(" ".join(results), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child-status", os.waitstatus_to_exitcode(status), flush=True)
r = j.append("s", [journal.Event("e", "after-fork")])
print("parent", r.first_seq, j.verify().ok, [e.data for e in j.read("s")], flush=True)
j.close()
"""


def test_journal_inherited_across_fork_fails_fast_in_the_child(jpath):
    # The fork happens in a separate process (never fork the test process with a journal open).
    res = run_python("-c", FORK_CHILD, jpath, timeout=30)
    assert res.returncode == 0, res.stderr
    child, status, parent = res.stdout.splitlines()
    assert child.split() == [
        "append:JournalClosed",
        "read:JournalClosed",
        "head:JournalClosed",
        "subscribe:JournalClosed",
        "reopen:worked" if is_pg(jpath) else "reopen:JournalLocked",
    ]
    assert status == "child-status 0"
    assert parent == "parent 2 True ['before-fork', 'after-fork']"
