"""The Akka persistence snapshot store TCK, mapped onto save/load/delete_snapshots."""

from __future__ import annotations

import os
import sys
import time

import pytest

import journal
from journal import EventRejected, Snapshot

PID = "p-1"
MAX = sys.maxsize


@pytest.fixture
def snaps(j: journal.Journal):
    """s-1..s-5 at seq 11..15, a few ms apart; returns (journal, {seq: timestamp_ms})."""
    # Neighbours whose keys sort around pid's, to catch scans that run into another stream.
    j.save_snapshot("p-0", 5, "other-0")
    j.save_snapshot("p-10", 3, "other-10")
    j.save_snapshot("p-2", 12, "other-2")
    ts = {}
    for n in range(1, 6):
        seq = 10 + n
        j.save_snapshot(PID, seq, f"s-{n}", metadata={"n": n})
        snap = j.load_snapshot(PID, max_seq=seq)
        assert snap is not None and snap.seq == seq and snap.state == f"s-{n}"
        ts[seq] = snap.timestamp_ms
        time.sleep(0.003)
    assert [ts[s] for s in sorted(ts)] == sorted(set(ts.values())), "timestamps must strictly increase"
    now_ms = time.time() * 1000
    assert all(now_ms - 60_000 < t <= now_ms + 1000 for t in ts.values())  # wall-clock milliseconds
    return j, ts


def _state(snap: Snapshot | None):
    return None if snap is None else snap.state


def test_S01_unknown_stream_has_none(snaps):
    j, _ = snaps
    assert j.load_snapshot("p-unknown") is None
    assert j.load_snapshot("p-") is None
    assert j.load_snapshot("p-unknown", max_seq=MAX) is None


def test_S02_max_timestamp_before_all_gives_none(snaps):
    j, _ = snaps
    assert j.load_snapshot(PID, max_timestamp_ms=100) is None


def test_S03_max_seq_before_all_gives_none(snaps):
    j, _ = snaps
    assert j.load_snapshot(PID, max_seq=7) is None  # p-0 has one at 5: it must not leak in


def test_S04_latest(snaps):
    j, ts = snaps
    snap = j.load_snapshot(PID)
    assert snap == Snapshot(PID, 15, ts[15], "s-5", {"n": 5})
    assert j.load_snapshot(PID, max_seq=MAX, max_timestamp_ms=ts[15]) == snap


def test_S05_max_seq(snaps):
    j, ts = snaps
    assert j.load_snapshot(PID, max_seq=13) == Snapshot(PID, 13, ts[13], "s-3", {"n": 3})


def test_S06_max_seq_and_timestamp(snaps):
    j, ts = snaps
    assert _state(j.load_snapshot(PID, max_seq=13, max_timestamp_ms=ts[13])) == "s-3"
    assert _state(j.load_snapshot(PID, max_seq=13, max_timestamp_ms=ts[12])) == "s-2"
    assert _state(j.load_snapshot(PID, max_seq=MAX, max_timestamp_ms=ts[14])) == "s-4"
    assert _state(j.load_snapshot(PID, max_seq=MAX, max_timestamp_ms=ts[11] - 1)) is None


def test_S07_delete_single(snaps):
    j, _ = snaps
    assert j.delete_snapshots(PID, min_seq=13, max_seq=13) == 1
    assert _state(j.load_snapshot(PID, max_seq=13)) == "s-2"
    assert _state(j.load_snapshot(PID)) == "s-5"
    assert j.delete_snapshots(PID, min_seq=13, max_seq=13) == 0  # already gone


def test_S08_delete_by_criteria(snaps):
    j, ts = snaps
    assert j.delete_snapshots(PID, max_seq=13, max_timestamp_ms=ts[13]) == 3
    assert j.load_snapshot(PID, max_seq=13, max_timestamp_ms=ts[13]) is None
    assert _state(j.load_snapshot(PID, max_seq=14, max_timestamp_ms=ts[14])) == "s-4"
    assert _state(j.load_snapshot(PID)) == "s-5"


def test_S09_delete_with_older_timestamp_keeps_newer(snaps):
    j, ts = snaps
    # Seqs up to 14, but only those saved before s-4: s-1..s-3 go, s-4 stays.
    assert j.delete_snapshots(PID, max_seq=14, max_timestamp_ms=ts[14] - 1) == 3
    assert _state(j.load_snapshot(PID, max_seq=14)) == "s-4"
    assert _state(j.load_snapshot(PID, max_seq=13)) is None


def test_S10_resave_overwrites(snaps):
    j, ts = snaps
    j.save_snapshot(PID, 15, "s-5b", metadata={"again": True})
    snap = j.load_snapshot(PID)
    assert (snap.seq, snap.state, snap.metadata) == (15, "s-5b", {"again": True})
    assert snap.timestamp_ms >= ts[15]
    assert j.delete_snapshots(PID, max_seq=MAX) == 5  # overwritten, not added


def test_S11_large_state_round_trips(snaps):
    j, _ = snaps
    state = {"blob": os.urandom(10_000), "list": list(range(100)), "text": "x" * 1000}
    j.save_snapshot(PID, 100, state)
    snap = j.load_snapshot(PID)
    assert snap.seq == 100 and snap.state == state and snap.metadata == {}


def test_load_snapshots_gives_a_range_oldest_first_in_one_read(snaps):
    j, ts = snaps
    got = j.load_snapshots(PID, min_seq=12, max_seq=14)
    assert [(s.seq, s.state, s.metadata, s.timestamp_ms) for s in got] == [(q, f"s-{q - 10}", {"n": q - 10}, ts[q]) for q in (12, 13, 14)]
    assert all(s.stream_id == PID for s in got)
    assert [s.seq for s in j.load_snapshots(PID)] == [11, 12, 13, 14, 15]  # neighbours' keys never leak in
    assert [s.seq for s in j.load_snapshots(PID, min_seq=15, max_seq=MAX)] == [15]
    assert j.load_snapshots(PID, min_seq=16) == [] and j.load_snapshots(PID, max_seq=10) == []
    assert j.load_snapshots("p-unknown") == []
    for s in got:
        assert j.load_snapshot(PID, max_seq=s.seq) == s  # the same snapshot one load_snapshot gives


def test_deletes_never_touch_other_streams(snaps):
    j, _ = snaps
    assert j.delete_snapshots(PID, max_seq=MAX) == 5
    assert j.load_snapshot(PID) is None
    assert _state(j.load_snapshot("p-0")) == "other-0"
    assert _state(j.load_snapshot("p-10")) == "other-10"
    assert _state(j.load_snapshot("p-2")) == "other-2"


def test_snapshots_survive_reopen(jpath):
    with journal.open(jpath) as j:
        j.save_snapshot("a", 3, {"count": 3})
    with journal.open(jpath, readonly=True) as r:
        assert _state(r.load_snapshot("a")) == {"count": 3}


def test_unencodable_snapshot_is_rejected_and_nothing_saved(j):
    j.save_snapshot("a", 1, "fine")
    with pytest.raises(EventRejected):
        j.save_snapshot("a", 2, {1, 2})
    with pytest.raises(EventRejected):
        j.save_snapshot("a", 3, "ok", metadata={"bad": object()})
    with pytest.raises(EventRejected):
        j.save_snapshot("a", 4, {(1, 2): "a tuple key encodes but never decodes"})
    assert j.load_snapshot("a") == Snapshot("a", 1, j.load_snapshot("a").timestamp_ms, "fine", {})
