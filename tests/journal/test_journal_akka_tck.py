"""The Akka persistence journal TCK, mapped onto journal.read / highest_seq / delete_to.

The TCK fixture writes persistence id ``pid`` seq 1..5 as the atomic writes [1] [2] [3] [4, 5]
with payloads "a-1".."a-5". Each case maps (fromSequenceNr, toSequenceNr, max) to
``read(pid, from_seq, to_seq, max_count)``.
"""

from __future__ import annotations

import sys

import pytest

import journal
from journal import AppendResult, AtomicWrite, Event, EventRejected, Rejected

MAX = sys.maxsize
PID = "p-1"


def _payloads(jr: journal.Journal, *args) -> list[str]:
    events = list(jr.read(PID, *args))
    for e in events:
        assert e.stream_id == PID
        assert e.data == f"a-{e.seq}", e  # each seq carries its own payload
    return [e.data for e in events]


def _expect(seqs) -> list[str]:
    return [f"a-{n}" for n in seqs]


@pytest.fixture
def tck(j: journal.Journal) -> journal.Journal:
    # Neighbouring streams whose keys sort right next to pid's, to catch range scans that overrun.
    j.append("p-0", [Event("other", "x-1")])
    j.append("p-10", [Event("other", "y-1"), Event("other", "y-2")])
    head_before = j.head()

    writes = [AtomicWrite(PID, [Event("evt", f"a-{n}") for n in batch]) for batch in ([1], [2], [3], [4, 5])]
    acks = j.append_batch(writes)

    # Acks come back one per write, in order; the 2-event write is one atomic write 4..5.
    assert all(isinstance(a, AppendResult) for a in acks)
    assert [(a.stream_id, a.first_seq, a.last_seq) for a in acks] == [(PID, 1, 1), (PID, 2, 2), (PID, 3, 3), (PID, 4, 5)]
    assert [a.position for a in acks] == [head_before + 1, head_before + 2, head_before + 3, head_before + 5]
    positions = [e.position for e in j.read(PID)]
    assert positions == list(range(head_before + 1, head_before + 6))
    assert j.highest_seq(PID) == 5
    return j


@pytest.mark.parametrize(
    ("case", "from_seq", "to_seq", "max_count", "expected"),
    [
        ("J01 replay all", 1, MAX, MAX, [1, 2, 3, 4, 5]),
        ("J02 from lower bound", 3, MAX, MAX, [3, 4, 5]),
        ("J03 to upper bound", 1, 3, MAX, [1, 2, 3]),
        ("J04 max", 1, MAX, 3, [1, 2, 3]),
        ("J05 lower and upper", 2, 3, MAX, [2, 3]),
        ("J06 bounds and max", 2, 5, 2, [2, 3]),
        ("J07 single", 2, 2, MAX, [2]),
        ("J08 max 1", 2, 4, 1, [2]),
        ("J09 max 0", 2, 4, 0, []),
        ("J10 lower > upper", 3, 2, MAX, []),
    ],
)
def test_replay_ranges(tck, case, from_seq, to_seq, max_count, expected):
    assert _payloads(tck, from_seq, to_seq, max_count) == _expect(expected), case
    assert tck.highest_seq(PID) == 5


def test_replay_defaults_read_everything(tck):
    assert _payloads(tck) == _expect(range(1, 6))
    assert _payloads(tck, 1, None, None) == _expect(range(1, 6))


def test_J11_unknown_stream_reads_nothing_and_has_highest_0(tck):
    assert list(tck.read("p-unknown")) == []
    assert list(tck.read("p-unknown", 1, MAX, MAX)) == []
    assert tck.highest_seq("p-unknown") == 0
    # A prefix of an existing id is a different, unknown stream.
    assert list(tck.read("p-")) == []
    assert tck.highest_seq("p-") == 0


def test_J12_highest_seq_without_replay(tck):
    assert list(tck.read(PID, 1, MAX, 0)) == []
    assert tck.highest_seq(PID) == 5


def test_J13_delete_to_removes_prefix(tck):
    tck.delete_to(PID, 3)
    assert _payloads(tck, 1, MAX, MAX) == _expect([4, 5])


def test_J14_delete_to_keeps_highest_seq(tck):
    tck.delete_to(PID, 3)
    assert tck.highest_seq(PID) == 5


def test_J15_delete_to_maxsize_deletes_all_keeps_highest(tck):
    tck.delete_to(PID, MAX)
    assert _payloads(tck, 1, MAX, MAX) == []
    assert tck.highest_seq(PID) == 5
    # The next append continues after the highest seq; nothing is reused.
    r = tck.append(PID, [Event("evt", "a-6")])
    assert (r.first_seq, r.last_seq) == (6, 6)
    assert _payloads(tck) == ["a-6"]


def test_J16_read_from_deleted_seq(tck):
    tck.delete_to(PID, 3)
    assert _payloads(tck, 3, MAX, MAX) == _expect([4, 5])


def test_J17_read_fully_deleted_range(tck):
    tck.delete_to(PID, 3)
    assert _payloads(tck, 1, 2, MAX) == []
    assert tck.highest_seq(PID) == 5


def test_J18_read_up_to_deleted_boundary(tck):
    tck.delete_to(PID, 3)
    assert _payloads(tck, 1, 3, MAX) == []


def test_J19_read_from_first_remaining(tck):
    tck.delete_to(PID, 3)
    assert _payloads(tck, 4, MAX, MAX) == _expect([4, 5])


def test_delete_to_leaves_neighbours_and_reports_bounds(tck):
    tck.delete_to(PID, 3)
    tck.delete_to(PID, 2)  # lowering the deletion mark is a no-op
    assert [e.data for e in tck.read("p-0")] == ["x-1"]
    assert [e.data for e in tck.read("p-10")] == ["y-1", "y-2"]
    info = {s.stream_id: s for s in tck.streams("p-")}
    assert info[PID] == journal.StreamInfo(PID, 5, 3)
    assert info["p-10"] == journal.StreamInfo("p-10", 2, 0)
    # Deleted events are gone from the global log too; the others keep their positions.
    assert [e.data for e in tck.read_all() if e.stream_id == PID] == ["a-4", "a-5"]
    assert tck.verify().ok


def test_delete_to_unknown_stream_creates_nothing(tck):
    tck.delete_to("p-nobody", 10)
    assert tck.highest_seq("p-nobody") == 0
    assert "p-nobody" not in {s.stream_id for s in tck.streams()}


def test_J20_rejected_write_in_batch_does_not_stop_others(tck):
    head = tck.head()
    results = tck.append_batch(
        [
            AtomicWrite(PID, [Event("evt", "a-6")]),
            AtomicWrite(PID, [Event("evt", {"not encodable": {1, 2, 3}})]),
            AtomicWrite(PID, [Event("evt", "a-7")]),
        ]
    )
    assert len(results) == 3
    ok1, rejected, ok2 = results
    assert isinstance(ok1, AppendResult) and (ok1.first_seq, ok1.last_seq, ok1.position) == (6, 6, head + 1)
    assert isinstance(rejected, Rejected)
    assert rejected.stream_id == PID
    assert isinstance(rejected.error, EventRejected)
    # The journal keeps seqs gap-free: the write after the rejected one takes seq 7.
    assert isinstance(ok2, AppendResult) and (ok2.first_seq, ok2.last_seq, ok2.position) == (7, 7, head + 2)
    assert _payloads(tck, 6) == ["a-6", "a-7"]
    assert tck.highest_seq(PID) == 7
    assert tck.head() == head + 2
    assert all(not isinstance(e.data, dict) for e in tck.read_all())  # the rejected event is nowhere
    assert tck.verify().ok


def test_J20_rejected_by_object_payload(tck):
    results = tck.append_batch(
        [
            AtomicWrite(PID, [Event("evt", "a-6")]),
            AtomicWrite(PID, [Event("evt", "ok"), Event("evt", object())]),  # one bad event spoils its write
            AtomicWrite(PID, [Event("evt", "a-7")]),
        ]
    )
    assert [type(r) for r in results] == [AppendResult, Rejected, AppendResult]
    assert _payloads(tck, 6) == ["a-6", "a-7"]
    assert "ok" not in [e.data for e in tck.read_all()]


def test_J22_metadata_round_trip(tck):
    meta = {"sender": "actor-7", "n": 3, "nested": {"k": [1, 2]}, "raw": b"\x00\xff"}
    tck.append(PID, [Event("evt", "a-6", metadata=meta, tags=("t1", "t2"), version=2)])
    (e,) = tck.read(PID, 6, 6, 1)
    assert (e.seq, e.type, e.data) == (6, "evt", "a-6")
    assert e.metadata == meta
    assert e.tags == ("t1", "t2")
    assert e.version == 2
    # Events written without metadata read back with an empty dict.
    (first,) = tck.read(PID, 1, 1, 1)
    assert first.metadata == {}
    assert first.tags == ()
    assert first.version == 1
