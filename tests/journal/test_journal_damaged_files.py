"""Damaged journal directories, built with real files: refused on open with CorruptJournal (or
another JournalError naming the file), never opened as a new empty journal, never a signal.

Each case damages a closed journal the way a disk, a bad copy or a careless hand would:
a 0-byte, zeroed or truncated data.mdb, a missing or damaged format marker, a data file from
another journal, a meta page pointing at a page that does not exist, and lock.mdb deleted
under a running writer.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

import lmdb
import pytest

import journal
from journal import CorruptJournal, Event, JournalError, UnsupportedFormat

from support import Lines, run_python, spawn

PAGE = 4096


@pytest.fixture
def made(jdir: str) -> str:
    """A closed journal of a few hundred KB: many pages, one stream."""
    with journal.open(jdir) as j:
        for n in range(100):
            j.append("s", [Event("blob", {"n": n, "pad": "x" * 2000})])
        assert j.verify().ok
    return jdir


def _data(path: str) -> str:
    return os.path.join(path, "data.mdb")


def _marker(path: str) -> dict:
    with open(os.path.join(path, "journal.format")) as f:
        return json.load(f)


def _open_in_child(path: str, *, readonly: bool = False) -> subprocess.CompletedProcess[str]:
    """Open and read the journal in a fresh process; it prints the error's class, or 'read N'."""
    code = (
        "import sys, journal\n"
        "try:\n"
        f"    with journal.open(sys.argv[1], readonly={readonly}) as j:\n"
        "        print('read', sum(1 for _ in j.read_all()))\n"
        "except journal.JournalError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    return run_python("-c", code, path)


def test_a_new_journal_carries_a_format_marker(jdir):
    with journal.open(jdir) as j:
        j.append("s", [Event("e")])
    marker = _marker(jdir)
    assert marker["format"] == 2 and len(marker["creation_id"]) == 32
    with journal.open(jdir):
        pass
    assert _marker(jdir) == marker  # written once, at creation
    assert not [n for n in os.listdir(jdir) if n.endswith(".tmp")]


@pytest.mark.parametrize("readonly", [False, True], ids=["writer", "reader"])
def test_a_zero_byte_data_file_is_refused_not_opened_as_a_new_journal(made, readonly):
    os.truncate(_data(made), 0)
    with pytest.raises(CorruptJournal) as exc:
        journal.open(made, readonly=readonly)
    assert "data.mdb" in str(exc.value) and "0 bytes" in str(exc.value) and "backup" in str(exc.value)
    assert exc.value.path == _data(made)
    assert os.path.getsize(_data(made)) == 0  # nothing was initialised over it


def test_a_zero_byte_data_file_without_a_marker_is_refused(made):
    os.unlink(os.path.join(made, "journal.format"))
    os.truncate(_data(made), 0)
    with pytest.raises(CorruptJournal):
        journal.open(made)


def test_a_zeroed_data_file_is_refused(made):
    size = os.path.getsize(_data(made))
    with open(_data(made), "r+b") as f:
        f.write(bytes(size))
    with pytest.raises(CorruptJournal) as exc:
        journal.open(made)
    assert "meta page" in str(exc.value)


@pytest.mark.parametrize("cut", ["two-pages", "half", "one-page"])
def test_a_truncated_data_file_is_refused_and_the_process_survives(made, cut):
    size = os.path.getsize(_data(made))
    assert size > 40 * PAGE
    keep = {"two-pages": 2 * PAGE, "half": size // 2, "one-page": size - PAGE}[cut]
    os.truncate(_data(made), keep)
    for readonly in (False, True):
        result = _open_in_child(made, readonly=readonly)
        assert result.returncode == 0, f"the opener died (rc={result.returncode}): {result.stderr[-500:]}"
        assert result.stdout.startswith("CorruptJournal "), result.stdout
        assert "truncated" in result.stdout and f"{keep:,} bytes" in result.stdout
    assert os.path.getsize(_data(made)) == keep  # and it was not extended or rewritten


def test_a_marker_without_its_data_file_is_refused(made):
    os.unlink(_data(made))
    with pytest.raises(CorruptJournal) as exc:
        journal.open(made)
    assert "missing" in str(exc.value)
    assert not os.path.exists(_data(made))


def test_a_lock_file_without_a_data_file_is_refused(made):
    os.unlink(os.path.join(made, "journal.format"))
    os.unlink(_data(made))
    with pytest.raises(CorruptJournal) as exc:
        journal.open(made)
    assert "lock.mdb" in str(exc.value)


def test_a_damaged_marker_is_refused(made):
    with open(os.path.join(made, "journal.format"), "wb") as f:
        f.write(b"\x00\x00garbage")
    with pytest.raises(CorruptJournal) as exc:
        journal.open(made, readonly=True)
    assert "journal.format" in str(exc.value)


def test_a_newer_format_is_refused_by_name(made):
    marker_path = os.path.join(made, "journal.format")
    marker = _marker(made)
    marker["format"] = 99
    with open(marker_path, "w") as f:
        json.dump(marker, f)
    for readonly in (False, True):
        with pytest.raises(UnsupportedFormat) as exc:
            journal.open(made, readonly=readonly)
        assert "format 99" in str(exc.value) and "format 2" in str(exc.value)


def test_a_data_file_from_another_journal_is_refused(made, tmp_path):
    other = str(tmp_path / "other")
    with journal.open(other) as j:
        j.append("elsewhere", [Event("e")])
    shutil.copyfile(_data(other), _data(made))
    with pytest.raises(CorruptJournal) as exc:
        journal.open(made)
    assert "creation id" in str(exc.value)


def test_a_journal_from_before_the_marker_is_accepted_and_marked(made):
    """A valid data.mdb with the journal's databases and no marker: a journal written before
    markers existed. Readers accept it as it is; its next writer gives it a marker."""
    os.unlink(os.path.join(made, "journal.format"))
    with journal.open(made, readonly=True) as r:
        assert r.highest_seq("s") == 100
    assert not os.path.exists(os.path.join(made, "journal.format"))
    with journal.open(made) as j:
        assert j.highest_seq("s") == 100
        j.append("s", [Event("after")])
    marker = _marker(made)
    with journal.open(made) as j:  # and the marker now matches the data file
        assert j.highest_seq("s") == 101
    assert _marker(made) == marker


def test_an_lmdb_environment_that_is_not_a_journal_is_refused(tmp_path):
    path = str(tmp_path / "foreign")
    env = lmdb.open(path, max_dbs=2)
    with env.begin(write=True) as txn:
        txn.put(b"some", b"thing")
    env.close()
    with pytest.raises(JournalError) as exc:
        journal.open(path)
    assert "not a journal" in str(exc.value)


def _newest_meta_offset(data: str) -> int:
    with open(data, "rb") as f:
        raw = f.read(2 * PAGE)
    txnids = [struct.unpack_from("=Q", raw, i * PAGE + 16 + 128)[0] for i in range(2)]
    return (0 if txnids[0] > txnids[1] else 1) * PAGE


@pytest.mark.parametrize("root", [10**6, 0], ids=["PageNotFoundError", "CorruptedError"])
def test_a_damaged_meta_page_gives_corrupt_journal_not_a_raw_lmdb_error(made, root):
    """LMDB's own errors: the main database's root beyond the last page (PageNotFoundError), or
    on a page that is not a B-tree page, here meta page 0 (CorruptedError, "wrong type")."""
    data = _data(made)
    with open(data, "r+b") as f:
        f.seek(_newest_meta_offset(data) + 128)  # page header 16 + MDB_meta's mm_dbs[MAIN_DBI] at 72 + md_root at 40
        f.write(struct.pack("=Q", root))
    for readonly in (False, True):
        result = _open_in_child(made, readonly=readonly)
        assert result.returncode == 0, result.stderr[-500:]
        assert result.stdout.startswith("CorruptJournal "), result.stdout
        assert "data.mdb" in result.stdout and "backup" in result.stdout
        assert ("MDB_CORRUPTED" if root == 0 else "MDB_PAGE_NOTFOUND") in result.stdout


WRITER = """
import sys, time, journal
with journal.open(sys.argv[1]) as j:
    j.append("w", [journal.Event("e", 0)])
    print("ready", flush=True)
    for line in sys.stdin:
        r = j.append("w", [journal.Event("e", line.strip())])
        print("appended", r.last_seq, flush=True)
"""


def test_lock_file_deleted_under_a_running_writer_is_refused_by_new_readers(jdir):
    writer = spawn("-c", WRITER, jdir, stdin=subprocess.PIPE)
    lines = Lines(writer)
    try:
        assert lines.line() == "ready"
        before = _open_in_child(jdir, readonly=True)
        assert before.stdout.strip() == "read 1", before.stdout + before.stderr  # fine while lock.mdb is there

        os.unlink(os.path.join(jdir, "lock.mdb"))
        for _ in range(2):  # the second finds the lock.mdb the first one's LMDB created
            result = _open_in_child(jdir, readonly=True)
            assert result.returncode == 0, result.stderr[-500:]
            assert result.stdout.startswith("LockFileReplaced "), result.stdout
            assert "lock.mdb" in result.stdout and "Stop that writer" in result.stdout

        assert writer.stdin is not None
        writer.stdin.write("more\n")
        writer.stdin.flush()
        assert lines.line() == "appended 2"  # the writer itself carries on
    finally:
        if writer.stdin:
            writer.stdin.close()
        writer.wait(10)
    assert writer.returncode == 0
    # Once that writer is gone, the journal opens again, with nothing lost.
    with journal.open(jdir) as j:
        assert [e.data for e in j.read("w")] == [0, "more"]
    with journal.open(jdir, readonly=True) as r:
        assert r.highest_seq("w") == 2

