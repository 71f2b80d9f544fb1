"""Unusual surroundings get the library's own errors: paths that are files, read-only and full
file systems, a map that cannot grow, bad arguments; and what the journal creates is private.

Read-only and full file systems are real: small tmpfs mounts (the suite runs as root; where
mounting is not allowed these tests say so and skip).
"""

from __future__ import annotations

import os
import stat
import subprocess
import uuid

import lmdb
import pytest

import journal
from journal import AtomicWrite, CannotOpen, DiskFull, Event, EventRejected, JournalError, faults

from support import run_python


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a fresh tmpfs; yields ``mount(size) -> path``; unmounted at the end."""
    mounted: list[str] = []

    def mount(size: str) -> str:
        point = str(tmp_path / f"mnt-{uuid.uuid4().hex[:6]}")
        os.mkdir(point)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", point], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", point], check=False)


def _remount_readonly(point: str) -> None:
    subprocess.run(["mount", "-o", "remount,ro", point], check=True)


def _fill(point: str) -> str:
    """Fill the file system to the last byte; return the filler's path (delete it to free space)."""
    filler = os.path.join(point, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 16, 1):
            try:
                while True:
                    os.write(fd, bytes(chunk))
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


# -- permissions ----------------------------------------------------------------------------


def test_the_directory_is_0700_and_its_files_0600_whatever_the_umask(tmp_path):
    path = str(tmp_path / "private")
    old = os.umask(0)
    try:
        with journal.open(path) as j:
            j.append("s", [Event("secret")])
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    files = sorted(os.listdir(path))
    assert files == ["data.mdb", "journal.format", "lock.mdb", "writer.lock"]
    for name in files:
        assert stat.S_IMODE(os.stat(os.path.join(path, name)).st_mode) == 0o600, name


# -- paths that cannot hold a journal -------------------------------------------------------


def test_a_path_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("not a journal")
    with pytest.raises(CannotOpen) as exc:
        journal.open(path)
    assert str(path) in str(exc.value) and "file" in str(exc.value)
    with pytest.raises(JournalError):
        journal.open(path, readonly=True)
    assert path.read_text() == "not a journal"


def test_a_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    for readonly in (False, True):
        with pytest.raises(JournalError) as exc:
            journal.open(tmp_path / "file" / "journal", readonly=readonly)
        assert "file" in str(exc.value)


def test_a_read_only_file_system_is_refused_with_what_to_do(tmpfs):
    point = tmpfs("4m")
    existing = os.path.join(point, "existing")
    with journal.open(existing) as j:
        j.append("s", [Event("kept")])
    _remount_readonly(point)
    with pytest.raises(CannotOpen) as exc:
        journal.open(os.path.join(point, "new"))
    assert "Read-only" in str(exc.value) and "readonly=True" in str(exc.value)
    with pytest.raises(CannotOpen) as exc:
        journal.open(existing)
    assert "Read-only" in str(exc.value)
    with journal.open(existing, readonly=True) as r:  # a mounted backup still reads
        assert [e.type for e in r.read("s")] == ["kept"] and r.verify().ok


def test_creating_a_journal_on_a_full_disk_says_the_disk_is_full(tmpfs):
    point = tmpfs("1m")
    _fill(point)
    with pytest.raises(DiskFull) as exc:
        journal.open(os.path.join(point, "j"))
    assert "full" in str(exc.value)


# -- a full disk under a running journal ------------------------------------------------------


def test_a_full_disk_fails_the_write_saying_so_and_the_journal_continues_once_freed(tmpfs):
    point = tmpfs("8m")
    path = os.path.join(point, "j")
    with journal.open(path, map_size=32 << 20) as j:
        j.append("s", [Event("before", "x" * 1000)])
        filler = _fill(point)
        with pytest.raises(DiskFull) as exc:
            for _ in range(200):  # enough to need new pages whatever LMDB could still reuse
                j.append("s", [Event("blob", os.urandom(20_000))])
        assert "full" in str(exc.value) and "acknowledged" in str(exc.value)
        acked = j.highest_seq("s")
        assert [e.type for e in j.read("s", 1, 1)] == ["before"]  # reads go on
        # On ext4 a short write reaches us as LMDB's EIO, not ENOSPC: with the disk full, that
        # is said to be a full disk too (and an EIO with space left is not).
        eio = lmdb.DiskError("mdb_txn_commit", "Input/output error")
        assert isinstance(faults.lmdb_error(path, "committing", eio), DiskFull)
        os.unlink(filler)
        assert not isinstance(faults.lmdb_error(path, "committing", eio), DiskFull)
        r = j.append("s", [Event("after")])  # and so do writes, once there is space
        assert r.last_seq == acked + 1
        assert j.verify().ok
    with journal.open(path, readonly=True) as r:
        assert r.highest_seq("s") == acked + 1


# -- the map cannot grow ----------------------------------------------------------------------

GROWTH = r"""
import os, re, resource, sys, threading, journal
path = sys.argv[1]
with journal.open(path, map_size=1 << 20) as j:
    j.append("s", [journal.Event("first")])
    vm = int(re.search(r"VmSize:\s+(\d+)", open("/proc/self/status").read()).group(1)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + (48 << 20), resource.RLIM_INFINITY))
    blob = "x" * 500_000
    try:
        for n in range(400):
            j.append("s", [journal.Event("blob", blob)])
        print("never failed")
    except journal.JournalError as e:
        print("failed", type(e).__name__, e)
    print("read", j.highest_seq("s"), sum(1 for _ in j.read("s", 1, 2)))
    threads = [t.name for t in threading.enumerate() if t.name.startswith("journal-writer")]
    print("writer", len(threads))
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    r = j.append("s", [journal.Event("blob", blob)] * 4)
    print("after", r.last_seq, j.verify().ok)
"""


def test_a_map_that_cannot_grow_fails_the_commit_clearly_and_the_journal_carries_on(tmp_path):
    result = run_python("-c", GROWTH, str(tmp_path / "j"), timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("failed MapGrowthFailed "), lines
    assert "could not grow" in lines[0] and "Cannot allocate memory" in lines[0] and "closed" not in lines[0]
    acked = int(lines[1].split()[1])
    assert lines[1] == f"read {acked} 2"  # reads keep working
    assert lines[2] == "writer 1"  # the writer thread is alive
    assert lines[3] == f"after {acked + 4} True"  # the next write grew the map


# -- bad arguments ----------------------------------------------------------------------------


def test_append_refuses_none_and_a_single_event_naming_the_argument(j):
    with pytest.raises(EventRejected) as exc:
        j.append("s", None)
    assert "events" in str(exc.value) and "NoneType" in str(exc.value)
    with pytest.raises(EventRejected) as exc:
        j.append("s", Event("lonely"))
    assert "single Event" in str(exc.value) and "[event]" in str(exc.value)
    with pytest.raises(EventRejected):
        j.append("s", "text")
    with pytest.raises(EventRejected) as exc:
        j.append_batch(None)
    assert "AtomicWrite" in str(exc.value)
    with pytest.raises(EventRejected) as exc:
        j.append_batch([Event("not a write")])
    assert "item #0" in str(exc.value)
    results = j.append_batch([AtomicWrite("s", Event("single")), AtomicWrite("t", [Event("fine")])])
    assert isinstance(results[0], journal.Rejected) and "single Event" in str(results[0].error)
    assert isinstance(results[1], journal.AppendResult)
    assert j.highest_seq("s") == 0 and j.highest_seq("t") == 1
