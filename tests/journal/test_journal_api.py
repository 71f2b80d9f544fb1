"""The journal's API contract: expected-seq modes, rejected events, reads, filters, streams,
upcasters, lifecycle errors and read-only journals."""

from __future__ import annotations

import os
import time

import pytest

import journal
from journal import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    AtomicWrite,
    CorruptRecord,
    Event,
    EventRejected,
    JournalClosed,
    JournalError,
    JournalLocked,
    ReadOnlyJournal,
    Rejected,
    StreamInfo,
    WrongExpectedVersion,
)

from conftest import assert_positions_gap_free, assert_streams_gap_free, ev


def _state(jr: journal.Journal) -> tuple:
    """Everything observable about the log, to show a failed call wrote nothing."""
    return jr.head(), list(jr.read_all()), list(jr.streams())


# -- opening -------------------------------------------------------------------------------


def test_open_creates_missing_directories(tmp_path):
    path = tmp_path / "a" / "b" / "c"
    with journal.open(path) as jr:  # a PathLike works too
        assert isinstance(jr, journal.Journal)
        assert jr.head() == 0
        jr.append("s", [ev()])
    assert (path / "data.mdb").exists()


def test_context_manager_closes(jpath):
    with journal.open(jpath) as jr:
        assert not jr.closed
    assert jr.closed
    # The writer lock went with it: the directory can be opened for writing again.
    with journal.open(jpath) as again:
        again.append("s", [ev()])


def test_invalid_durability_is_refused(jpath):
    with pytest.raises(ValueError, match="durability"):
        journal.open(jpath, durability="sometimes")
    with journal.open(jpath) as jr:  # and the failed open left no lock behind
        jr.append("s", [ev()])


def test_data_survives_reopen_and_positions_continue(jpath):
    with journal.open(jpath) as jr:
        jr.append("a", [ev("x", 1), ev("y", 2)])
        jr.append("b", [ev("z", 3)])
    with journal.open(jpath) as jr:
        assert [(e.stream_id, e.seq, e.position, e.data) for e in jr.read_all()] == [("a", 1, 1, 1), ("a", 2, 2, 2), ("b", 1, 3, 3)]
        r = jr.append("a", [ev("x", 4)])
        assert (r.first_seq, r.position) == (3, 4)


@pytest.mark.parametrize("durability", ["sync", "nosync"])
def test_both_durabilities_persist_on_close(jpath, durability):
    with journal.open(jpath, durability=durability) as jr:
        assert jr.durability == durability
        for n in range(50):
            jr.append(f"s{n % 5}", [ev("e", n)])
    with journal.open(jpath, readonly=True) as r:
        assert [e.data for e in r.read_all()] == list(range(50))
        assert r.verify().ok


def test_error_hierarchy():
    for cls in (WrongExpectedVersion, EventRejected, CorruptRecord, JournalLocked, ReadOnlyJournal, JournalClosed):
        assert issubclass(cls, JournalError)


# -- appending -----------------------------------------------------------------------------


def test_append_assigns_seqs_positions_and_timestamps(j):
    before = time.time_ns() // 1_000_000
    r1 = j.append("a", [ev("t", 1), ev("t", 2)])
    r2 = j.append("b", [ev("t", 3)])
    r3 = j.append("a", [ev("t", 4)])
    after = time.time_ns() // 1_000_000
    assert r1 == AppendResult("a", 1, 2, 2)
    assert r2 == AppendResult("b", 1, 1, 3)
    assert r3 == AppendResult("a", 3, 3, 4)
    events = list(j.read_all())
    assert [(e.stream_id, e.seq, e.position) for e in events] == [("a", 1, 1), ("a", 2, 2), ("b", 1, 3), ("a", 3, 4)]
    assert all(before <= e.timestamp_ms <= after for e in events)
    assert isinstance(events[0], journal.RecordedEvent)


def test_append_accepts_any_iterable_of_events(j):
    r = j.append("gen", (ev("t", n) for n in range(3)))
    assert (r.first_seq, r.last_seq) == (1, 3)
    assert [e.data for e in j.read("gen")] == [0, 1, 2]


def test_data_types_round_trip(j):
    data = {
        "none": None, "true": True, "int": -(2**63), "big": 2**64 - 1, "float": 1.5, "str": "héllo ✓",
        "bytes": b"\x00\x01\xff", "list": [1, [2, [3]]], "nested": {"a": {"b": {}}}, 7: "int key",
    }
    j.append("types", [ev("t", data), ev("t", None), ev("t", "plain"), ev("t", [1, 2])])
    assert [e.data for e in j.read("types")] == [data, None, "plain", [1, 2]]


def test_expected_seq_no_stream(j):
    assert j.append("s", [ev()], expected_seq=NO_STREAM).first_seq == 1
    before = _state(j)
    with pytest.raises(WrongExpectedVersion) as exc:
        j.append("s", [ev()], expected_seq=NO_STREAM)
    assert (exc.value.stream_id, exc.value.expected, exc.value.actual) == ("s", NO_STREAM, 1)
    assert _state(j) == before


def test_expected_seq_stream_exists(j):
    with pytest.raises(WrongExpectedVersion) as exc:
        j.append("s", [ev()], expected_seq=STREAM_EXISTS)
    assert exc.value.actual == 0
    assert j.head() == 0 and j.highest_seq("s") == 0 and list(j.streams()) == []
    j.append("s", [ev()])
    assert j.append("s", [ev()], expected_seq=STREAM_EXISTS).first_seq == 2


def test_expected_seq_exact(j):
    assert j.append("s", [ev(), ev()], expected_seq=0).last_seq == 2
    assert j.append("s", [ev()], expected_seq=2).last_seq == 3
    before = _state(j)
    for wrong in (0, 2, 4, 100):
        with pytest.raises(WrongExpectedVersion) as exc:
            j.append("s", [ev()], expected_seq=wrong)
        assert (exc.value.expected, exc.value.actual) == (wrong, 3)
        assert "s" in str(exc.value) and "3" in str(exc.value)
    assert _state(j) == before
    # After delete_to the highest seq is unchanged, and so is what expected_seq compares with.
    j.delete_to("s", 3)
    assert j.append("s", [ev()], expected_seq=3).first_seq == 4


def test_expected_seq_any_always_appends(j):
    assert j.append("s", [ev()], expected_seq=ANY).first_seq == 1
    assert j.append("s", [ev()]).first_seq == 2


@pytest.mark.parametrize("bad", [-1, True, "3", 1.0, None])
def test_invalid_expected_seq_is_rejected(j, bad):
    with pytest.raises(EventRejected):
        j.append("s", [ev()], expected_seq=bad)
    assert j.head() == 0


@pytest.mark.parametrize(
    "bad_event",
    [
        Event("t", {1, 2}),
        Event("t", object()),
        Event("t", {"deep": [1, {"x": object()}]}),
        Event("t", 2**64),  # beyond msgpack's integers
        Event("t", {(1, 2): "tuple key"}),  # encodes, but could never be decoded again
        Event("t", [{"k": {("a",): 1}}]),
        Event("t", "ok", metadata={"m": {1}}),
        Event("t", "ok", metadata=["not", "a", "dict"]),
        Event("", "empty type"),
        Event(None, "no type"),
        Event("t", "ok", version=0),
        Event("t", "ok", version="2"),
        Event("t", "ok", tags=(1, 2)),
        Event("t", "ok", tags=5),
        "not an Event",
        ("t", "tuple"),
    ],
    ids=lambda e: repr(e)[:40],
)
def test_event_rejected_writes_nothing_and_journal_keeps_working(j, bad_event):
    j.append("s", [ev("t", 1)])
    before = _state(j)
    with pytest.raises(EventRejected):
        j.append("s", [ev("t", 2), bad_event, ev("t", 3)])  # the good events around it go too
    assert _state(j) == before
    assert j.append("s", [ev("t", 2)]) == AppendResult("s", 2, 2, 2)
    assert [e.data for e in j.read("s")] == [1, 2]
    assert j.verify().ok


def test_tags_given_as_a_string_are_not_split_into_characters(j):
    try:
        j.append("s", [Event("t", 1, tags="urgent")])
    except EventRejected:
        assert j.head() == 0  # refusing it is fine, as long as nothing was written
        return
    (e,) = j.read("s")
    assert e.tags == ("urgent",)
    assert [x.seq for x in j.read_all(tags=["urgent"])] == [1]


@pytest.mark.parametrize("bad_id", ["", "a\x00b", "x" * 401, 42, None, b"bytes"])
def test_invalid_stream_ids(j, bad_id):
    with pytest.raises((EventRejected, ValueError)):
        j.append(bad_id, [ev()])
    with pytest.raises((ValueError, TypeError)):
        j.highest_seq(bad_id)
    assert j.head() == 0


def test_longest_and_unicode_stream_ids(j):
    long_id = "x" * 400
    j.append(long_id, [ev("t", 1)])
    j.append("émoji-🙂", [ev("t", 2)])
    assert [e.data for e in j.read(long_id)] == [1]
    assert [e.data for e in j.read("émoji-🙂")] == [2]
    assert {s.stream_id for s in j.streams()} == {long_id, "émoji-🙂"}


def test_empty_append_writes_nothing(j):
    j.append("s", [ev()])
    before = _state(j)
    r = j.append("s", [])
    assert r.stream_id == "s"
    assert _state(j) == before


def test_append_batch_mixed_results(j):
    j.append("x", [ev("t", "x1")])
    results = j.append_batch(
        [
            AtomicWrite("x", [ev("t", "x2")], expected_seq=1),
            AtomicWrite("y", [ev("t", "y1")], expected_seq=STREAM_EXISTS),  # y does not exist
            AtomicWrite("x", [ev("t", "x3"), ev("t", "x4")], expected_seq=2),  # sees the first write
            AtomicWrite("z", [ev("t", object())]),
            AtomicWrite("", [ev("t", "bad id")]),
            AtomicWrite("y", [ev("t", "y1")], expected_seq=NO_STREAM),
            AtomicWrite("x", [ev("t", "never")], expected_seq=2),  # stale by now
        ]
    )
    assert len(results) == 7
    assert results[0] == AppendResult("x", 2, 2, 2)
    assert isinstance(results[1], Rejected) and isinstance(results[1].error, WrongExpectedVersion)
    assert results[1].stream_id == "y"
    assert results[2] == AppendResult("x", 3, 4, 4)
    assert isinstance(results[3], Rejected) and isinstance(results[3].error, EventRejected)
    assert isinstance(results[4], Rejected) and isinstance(results[4].error, EventRejected)
    assert results[5] == AppendResult("y", 1, 1, 5)
    assert isinstance(results[6], Rejected) and results[6].error.actual == 4
    assert [e.data for e in j.read_all()] == ["x1", "x2", "x3", "x4", "y1"]
    assert_positions_gap_free(j)
    assert j.verify().ok


def test_append_batch_empty(j):
    assert j.append_batch([]) == []
    assert j.head() == 0


# -- reading -------------------------------------------------------------------------------


def test_read_is_paged_beyond_one_chunk(j):
    n = 2500  # more than one read transaction's worth
    j.append_batch([AtomicWrite("big", [ev("t", i) for i in range(n)]), AtomicWrite("other", [ev("t", -1)])])
    assert [e.data for e in j.read("big")] == list(range(n))
    assert [e.seq for e in j.read("big", 1000, 2100, 1500)] == list(range(1000, 2101))
    assert [e.seq for e in j.read("big", 10, None, 1500)] == list(range(10, 1510))
    assert [e.position for e in j.read_all(after=1)] == list(range(2, n + 2))
    assert [e.data for e in j.read_all(after=100, limit=1200)] == list(range(100, 1300))
    assert [e.data for e in j.read_all(types=["t"], limit=2000)][-1] == 1999


def test_read_is_lazy_but_validates_eagerly(j):
    with pytest.raises(ValueError):
        j.read("")  # no iteration needed
    it = j.read("s")
    j.append("s", [ev("t", 1)])
    assert [e.data for e in it] == [1]  # reads at iteration time


def test_head(j):
    assert j.head() == 0
    j.append("a", [ev(), ev()])
    assert j.head() == 2
    j.append_batch([AtomicWrite("b", [ev()]), AtomicWrite("c", [ev(), ev()])])
    assert j.head() == 5
    j.delete_to("c", 2)  # deleting never moves the head back
    assert j.head() == 5
    assert j.append("d", [ev()]).position == 6


def test_read_all_after_and_limit(j):
    for n in range(10):
        j.append(f"s{n % 3}", [ev("t", n)])
    assert [e.data for e in j.read_all()] == list(range(10))
    assert [e.position for e in j.read_all(after=4)] == [5, 6, 7, 8, 9, 10]
    assert [e.position for e in j.read_all(after=4, limit=2)] == [5, 6]
    assert list(j.read_all(after=10)) == []
    assert list(j.read_all(after=999)) == []
    assert list(j.read_all(limit=0)) == []


def test_read_all_skips_deleted_events(j):
    j.append("a", [ev("t", "a1"), ev("t", "a2")])
    j.append("b", [ev("t", "b1")])
    j.append("a", [ev("t", "a3")])
    j.delete_to("a", 2)
    assert [(e.data, e.position) for e in j.read_all()] == [("b1", 3), ("a3", 4)]


def test_read_all_filters(j):
    j.append("o-1", [ev("placed", 1, tags=("eu", "vip")), ev("paid", 2, tags=("eu",))])
    j.append("o-2", [ev("placed", 3, tags=("us",)), ev("shipped", 4)])
    j.append("o-3", [ev("paid", 5, tags=("vip",))])

    def data(**kw):
        return [e.data for e in j.read_all(**kw)]

    assert data(types=["placed"]) == [1, 3]
    assert data(types="placed") == [1, 3]  # one type as a plain string
    assert data(types={"placed", "paid"}) == [1, 2, 3, 5]
    assert data(types=[]) == []
    assert data(types=["nope"]) == []
    assert data(tags=["vip"]) == [1, 5]
    assert data(tags="eu") == [1, 2]
    assert data(tags=["us", "vip"]) == [1, 3, 5]  # any of the tags
    assert data(types=["paid"], tags=["vip"]) == [5]  # both filters
    assert data(types=["placed", "paid"], after=1, limit=2) == [2, 3]  # limit counts matches
    assert data(tags=[]) == []
    # Filtered reads still report true positions.
    assert [e.position for e in j.read_all(types=["paid"])] == [2, 5]


def test_read_all_filter_over_many_non_matching(j):
    # A match far behind thousands of non-matching events is still found, and limits hold.
    j.append_batch([AtomicWrite("noise", [ev("noise", i) for i in range(3000)])])
    j.append("signal", [ev("signal", "needle")])
    j.append_batch([AtomicWrite("noise", [ev("noise", i) for i in range(1500)])])
    j.append("signal", [ev("signal", "second")])
    assert [e.data for e in j.read_all(types=["signal"])] == ["needle", "second"]
    assert [e.data for e in j.read_all(types=["signal"], limit=1)] == ["needle"]
    assert [e.position for e in j.read_all(types=["signal"], after=3001)] == [4502]


def test_streams_listing_and_prefix(j):
    for sid in ["order-2", "order-1", "orders", "user-1", "order-10", "ord"]:
        j.append(sid, [ev()])
    j.append("order-1", [ev(), ev()])
    j.delete_to("order-1", 2)
    assert [s.stream_id for s in j.streams()] == sorted(["order-2", "order-1", "orders", "user-1", "order-10", "ord"])
    assert list(j.streams("order-")) == [
        StreamInfo("order-1", 3, 2),
        StreamInfo("order-10", 1, 0),
        StreamInfo("order-2", 1, 0),
    ]
    assert [s.stream_id for s in j.streams("order")] == ["order-1", "order-10", "order-2", "orders"]
    assert list(j.streams("zzz")) == []
    assert list(j.streams("order-1")) == [StreamInfo("order-1", 3, 2), StreamInfo("order-10", 1, 0)]


def test_streams_pages_over_many_streams(j):
    ids = [f"s-{n:05d}" for n in range(2100)]
    results = j.append_batch([AtomicWrite(sid, [ev()]) for sid in ids] + [AtomicWrite("t-1", [ev()])])
    assert all(isinstance(r, AppendResult) for r in results)
    assert [s.stream_id for s in j.streams("s-")] == ids
    assert [s.stream_id for s in j.streams()] == [*ids, "t-1"]
    assert all(s.highest_seq == 1 for s in j.streams())


# -- upcasting -----------------------------------------------------------------------------


def test_upcaster_chain(jpath):
    with journal.open(jpath) as jr:
        jr.append("s", [ev("t", {"name": "ann"}), ev("t", {"full_name": "bob"}, version=2), ev("t", {"full_name": "cy", "age": 3}, version=3)])
        jr.append("s", [ev("other", {"name": "untouched"})])
        jr.register_upcaster("t", 1, lambda d: {"full_name": d["name"]})
        jr.register_upcaster("t", 2, lambda d: {**d, "age": None})

        got = [(e.version, e.data) for e in jr.read("s")]
        assert got == [
            (3, {"full_name": "ann", "age": None}),
            (3, {"full_name": "bob", "age": None}),
            (3, {"full_name": "cy", "age": 3}),
            (1, {"name": "untouched"}),
        ]
        assert [(e.version, e.data) for e in jr.read_all(types=["t"])] == got[:3]
        with jr.subscribe() as sub:
            assert [(next(sub).version) for _ in range(4)] == [3, 3, 3, 1]

        # Stored records are untouched: an opener without upcasters sees the originals.
        with journal.open(jpath, readonly=True) as raw:
            assert [(e.version, e.data) for e in raw.read("s")][:2] == [(1, {"name": "ann"}), (2, {"full_name": "bob"})]


def test_upcaster_gap_stops_the_chain(j):
    j.append("s", [ev("t", 1)])
    j.register_upcaster("t", 2, lambda d: d * 100)  # no 1 -> 2: a v1 event stays v1
    (e,) = j.read("s")
    assert (e.version, e.data) == (1, 1)
    j.register_upcaster("t", 1, lambda d: d + 1)
    (e,) = j.read("s")
    assert (e.version, e.data) == (3, 200)


# -- lifecycle and read-only ---------------------------------------------------------------


def test_closed_journal_raises_journal_closed(jpath):
    jr = journal.open(jpath)
    jr.append("s", [ev()])
    jr.save_snapshot("s", 1, "state")
    pending_read = jr.read("s")
    jr.close()
    jr.close()  # idempotent
    assert jr.closed
    calls = {
        "append": lambda: jr.append("s", [ev()]),
        "append_batch": lambda: jr.append_batch([AtomicWrite("s", [ev()])]),
        "read": lambda: list(jr.read("s")),
        "read_all": lambda: list(jr.read_all()),
        "highest_seq": lambda: jr.highest_seq("s"),
        "head": jr.head,
        "delete_to": lambda: jr.delete_to("s", 1),
        "subscribe": lambda: jr.subscribe(),
        "streams": lambda: list(jr.streams()),
        "save_snapshot": lambda: jr.save_snapshot("s", 2, "x"),
        "load_snapshot": lambda: jr.load_snapshot("s"),
        "delete_snapshots": lambda: jr.delete_snapshots("s", max_seq=5),
        "verify": jr.verify,
        "iterating a read made before close": lambda: list(pending_read),
    }
    for name, call in calls.items():
        with pytest.raises(JournalClosed):
            call()
            pytest.fail(f"{name} worked on a closed journal")


def test_readonly_journal_reads_but_refuses_writes(jpath):
    with journal.open(jpath) as w:
        w.append("s", [ev("t", 1)], expected_seq=NO_STREAM)
        w.save_snapshot("s", 1, "snap")
    with journal.open(jpath, readonly=True) as r:
        assert r.readonly
        before = _state(r)
        writes = {
            "append": lambda: r.append("s", [ev()]),
            "append_batch": lambda: r.append_batch([AtomicWrite("s", [ev()])]),
            "delete_to": lambda: r.delete_to("s", 1),
            "save_snapshot": lambda: r.save_snapshot("s", 2, "x"),
            "delete_snapshots": lambda: r.delete_snapshots("s", max_seq=5),
        }
        for name, call in writes.items():
            with pytest.raises(ReadOnlyJournal, match="readonly"):
                call()
                pytest.fail(f"{name} wrote to a readonly journal")
        assert _state(r) == before
        assert [e.data for e in r.read("s")] == [1]
        assert r.highest_seq("s") == 1
        assert r.load_snapshot("s").state == "snap"
        assert r.verify().ok


def test_readonly_and_writer_in_one_process(jpath):
    with journal.open(jpath) as w, journal.open(jpath, readonly=True) as r:
        w.append("s", [ev("t", 1)])
        assert [e.data for e in r.read("s")] == [1]  # sees the writer's commits at once
        with pytest.raises(ReadOnlyJournal):
            r.append("s", [ev()])
        r.close()
        w.append("s", [ev("t", 2)])  # closing the reader leaves the shared writer working
        assert [e.data for e in w.read("s")] == [1, 2]


def test_readonly_open_of_missing_journal_is_a_clear_error(tmp_path):
    missing = tmp_path / "nothing-here"
    with pytest.raises(JournalError, match="no journal") as exc:
        journal.open(missing, readonly=True)
    assert str(missing) in str(exc.value)
    assert not missing.exists()  # a readonly open creates nothing
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(JournalError, match="no journal"):
        journal.open(empty, readonly=True)
    assert os.listdir(empty) == []


def test_same_process_second_writer_is_locked(jdir):
    """LMDB: one writer per directory. (PostgreSQL takes many: test_journal_processes_pg.py.)"""
    with journal.open(jdir) as first:
        first.append("s", [ev()])
        with pytest.raises(JournalLocked, match="readonly") as exc:
            journal.open(jdir)
        assert str(os.getpid()) in str(exc.value)  # names the holder
        with pytest.raises(JournalLocked):
            journal.open(jdir + "/", durability="nosync")  # another spelling of the same path
        first.append("s", [ev()])  # the failed opens did not disturb the writer
        assert first.highest_seq("s") == 2
    with journal.open(jdir) as second:
        assert second.append("s", [ev()]).first_seq == 3


def test_delete_to_never_lowers_and_keeps_seqs_gap_free(j):
    j.append("s", [ev("t", n) for n in range(1, 6)])
    j.delete_to("s", 2)
    j.delete_to("s", 1)
    assert [e.seq for e in j.read("s")] == [3, 4, 5]
    j.append("s", [ev("t", 6)])
    j.delete_to("s", 100)
    assert list(j.read("s")) == []
    assert j.highest_seq("s") == 6
    assert list(j.streams()) == [StreamInfo("s", 6, 6)]
    j.append("s", [ev("t", 7)])
    assert [e.seq for e in j.read("s")] == [7]
    assert_streams_gap_free(j)
    assert j.verify().ok
