"""Hand-made corruption: damaged records are reported precisely, everything else reads normally.

The damage is done beside the journal, as a failing disk or a bad tool might: on LMDB by opening
the closed journal's environment directly, on PostgreSQL with plain SQL on its tables.
"""

from __future__ import annotations

import lmdb
import psycopg
import pytest

import journal
from journal import CorruptRecord, Event

from conftest import ev, is_pg


def _damage(path: str, fn) -> None:
    """Run ``fn(txn, dbs)`` in a write transaction on the raw environment (journal closed)."""
    env = lmdb.open(path, max_dbs=5)
    try:
        dbs = {name: env.open_db(name.encode(), create=False) for name in ("events", "index", "streams", "snapshots", "meta")}
        with env.begin(write=True) as txn:
            fn(txn, dbs)
    finally:
        env.close()


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def _sql(url: str, statement: str, *params) -> list[tuple]:
    """Run one statement on the PostgreSQL journal's tables (found through the URL's search_path)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def put_record(path: str, position: int, raw: bytes) -> None:
    """Overwrite the stored record at ``position`` with ``raw``."""
    if is_pg(path):
        _sql(path, "UPDATE journal_events SET record = %s WHERE position = %s", raw, position)
    else:
        _damage(path, lambda txn, dbs: txn.put(_u64(position), raw, db=dbs["events"]))


def get_record(path: str, position: int) -> bytes:
    if is_pg(path):
        return bytes(_sql(path, "SELECT record FROM journal_events WHERE position = %s", position)[0][0])
    out: list[bytes] = []
    _damage(path, lambda txn, dbs: out.append(txn.get(_u64(position), db=dbs["events"])))
    return out[0]


def put_snapshot(path: str, stream_id: str, seq: int, raw: bytes) -> None:
    if is_pg(path):
        _sql(path, "UPDATE journal_snapshots SET value = %s WHERE stream_id = %s AND seq = %s", raw, stream_id, seq)
    else:
        _damage(path, lambda txn, dbs: txn.put(stream_id.encode() + b"\x00" + _u64(seq), raw, db=dbs["snapshots"]))


def _two_streams(path: str) -> int:
    """Streams a (seq 1..4) and b (seq 1..3) interleaved; returns the position of a's seq 3."""
    with journal.open(path) as j:
        j.append("a", [ev("t", "a1"), ev("t", "a2")])  # positions 1, 2
        j.append("b", [ev("t", "b1")])  # 3
        j.append("a", [ev("t", "a3")])  # 4
        j.append("b", [ev("t", "b2"), ev("t", "b3")])  # 5, 6
        j.append("a", [ev("t", "a4")])  # 7
        (target,) = j.read("a", 3, 3)
        assert j.verify().ok
    return target.position


@pytest.fixture
def two_streams(jpath: str) -> int:
    return _two_streams(jpath)


@pytest.fixture
def two_streams_lmdb(jdir: str) -> int:
    return _two_streams(jdir)


@pytest.mark.parametrize("garbage", [b"\xc1\xc1\xc1", b"", b"\x94\xa1a\x03", b"\x01", b"\x94\xa1a\x03\x95\xa1t\xc0\x80\x90\x01\xcf"], ids=["reserved-bytes", "empty", "truncated", "wrong-shape", "truncated-late"])
def test_undecodable_record(jpath, two_streams, garbage):
    pos = two_streams
    assert pos == 4
    put_record(jpath, pos, garbage)

    with journal.open(jpath) as j:
        # Reading the damaged stream fails at the damaged record, naming it.
        with pytest.raises(CorruptRecord) as exc:
            list(j.read("a"))
        assert (exc.value.stream_id, exc.value.seq, exc.value.position) == ("a", 3, pos)
        assert "a" in str(exc.value) and str(pos) in str(exc.value)
        assert isinstance(exc.value, journal.JournalError)
        # Around it, the stream still reads.
        assert [e.data for e in j.read("a", 1, 2)] == ["a1", "a2"]
        assert [e.data for e in j.read("a", 4)] == ["a4"]
        got = []
        with pytest.raises(CorruptRecord):
            for e in j.read("a"):
                got.append(e.data)
        assert got == ["a1", "a2"]  # what came before it was delivered
        # Other streams are unaffected.
        assert [e.data for e in j.read("b")] == ["b1", "b2", "b3"]
        assert j.highest_seq("a") == 4

        # The global log fails at the damaged position, naming stream, seq and position...
        seen = []
        with pytest.raises(CorruptRecord) as exc:
            for e in j.read_all():
                seen.append(e.position)
        assert seen == [1, 2, 3]
        assert (exc.value.stream_id, exc.value.seq, exc.value.position) == ("a", 3, pos)
        # ...and resumes right after it.
        assert [e.data for e in j.read_all(after=pos)] == ["b2", "b3", "a4"]
        # A filter that would skip the record still cannot decode it: the error is not hidden.
        with pytest.raises(CorruptRecord):
            list(j.read_all(types=["nothing-matches"]))
        # A subscription reports it too, and one started after it runs on.
        with pytest.raises(CorruptRecord), j.subscribe() as sub:
            for _ in range(4):
                next(sub)
        with j.subscribe(after=pos) as sub:
            assert next(sub).data == "b2"

        report = j.verify()
        assert not report.ok
        assert len(report.problems) == 1
        (p,) = report.problems
        assert (p.kind, p.stream_id, p.seq, p.position) == ("undecodable", "a", 3, pos)
        assert p.detail
        assert report.events_checked == 7

        # The journal keeps working for writes.
        r = j.append("a", [ev("t", "a5")])
        assert (r.first_seq, r.position) == (5, 8)
        assert [e.data for e in j.read("a", 5)] == ["a5"]
        # Deleting past the damage removes it; verify is clean again.
        j.delete_to("a", 3)
        assert [e.data for e in j.read("a")] == ["a4", "a5"]
        assert j.verify().ok


def test_record_of_another_stream_under_this_index(jpath, two_streams):
    """A decodable record that is not the one the index promises is reported, not returned."""

    put_record(jpath, 4, get_record(jpath, 3))  # b's seq 1 where a's seq 3 should be
    with journal.open(jpath) as j:
        with pytest.raises(CorruptRecord) as exc:
            list(j.read("a"))
        assert (exc.value.stream_id, exc.value.seq, exc.value.position) == ("a", 3, 4)
        kinds = {(p.kind, p.stream_id, p.seq, p.position) for p in j.verify().problems}
        assert kinds == {("index_mismatch", "a", 3, 4)}


def test_a_changed_byte_that_still_decodes_is_a_checksum_problem(jpath, two_streams):
    """Damage the CRC-32 catches (the record still decodes) is kind ``checksum`` on both backends,
    for records and snapshots, not ``undecodable``."""
    with journal.open(jpath) as j:
        j.save_snapshot("b", 3, {"sum": "snap-3"})
    raw = get_record(jpath, 4)
    assert b"a3" in raw
    put_record(jpath, 4, raw.replace(b"a3", b"aX", 1))
    if is_pg(jpath):
        (value,) = _sql(jpath, "SELECT value FROM journal_snapshots WHERE stream_id = 'b' AND seq = 3")[0]
    else:
        got: list[bytes] = []
        _damage(jpath, lambda txn, dbs: got.append(txn.get(b"b\x00" + _u64(3), db=dbs["snapshots"])))
        value = got[0]
    put_snapshot(jpath, "b", 3, bytes(value).replace(b"snap-3", b"snap-X", 1))
    with journal.open(jpath) as j:
        with pytest.raises(CorruptRecord) as exc:
            list(j.read("a"))
        assert (exc.value.stream_id, exc.value.seq, exc.value.position) == ("a", 3, 4) and "checksum" in str(exc.value)
        problems = sorted((p.kind, p.stream_id, p.seq, p.position) for p in j.verify().problems)
        assert problems == [("checksum", "a", 3, 4), ("checksum", "b", 3, None)]


def test_missing_event_and_missing_index_entry(jdir, two_streams_lmdb):
    """LMDB keeps an index beside the events: either can lose an entry."""
    jpath = jdir

    def remove(txn, dbs):
        txn.delete(_u64(4), db=dbs["events"])  # a/3's record vanishes; the index still points at it
        txn.delete(b"b\x00" + _u64(2), db=dbs["index"])  # b/2's index entry vanishes; its record stays

    _damage(jpath, remove)
    with journal.open(jpath) as j:
        with pytest.raises(CorruptRecord) as exc:
            list(j.read("a"))
        assert (exc.value.stream_id, exc.value.seq, exc.value.position) == ("a", 3, 4)
        problems = {(p.kind, p.stream_id, p.seq, p.position) for p in j.verify().problems}
        assert ("missing_event", "a", 3, 4) in problems
        assert ("orphan_event", "b", 2, 5) in problems
        assert ("seq_gap", "b", 2, None) in problems
        assert not j.verify().ok


def test_missing_event_row_pg(pg_url):
    """PostgreSQL: an event row deleted behind the journal's back is a gap, named by read and verify."""
    assert _two_streams(pg_url) == 4
    _sql(pg_url, "DELETE FROM journal_events WHERE position = 4")  # a's seq 3
    with journal.open(pg_url) as j:
        got = []
        with pytest.raises(CorruptRecord) as exc:
            for e in j.read("a"):
                got.append(e.data)
        assert got == ["a1", "a2"]
        assert (exc.value.stream_id, exc.value.seq) == ("a", 3)
        assert [e.data for e in j.read("a", 4)] == ["a4"]  # a read starting after the gap is fine
        problems = {(p.kind, p.stream_id, p.seq) for p in j.verify().problems}
        assert problems == {("seq_gap", "a", 3)}
        j.delete_to("a", 3)  # deleting past the gap closes it
        assert [e.data for e in j.read("a")] == ["a4"]
        assert j.verify().ok


def test_damaged_stream_row(jdir, two_streams_lmdb):
    _damage(jdir, lambda txn, dbs: txn.put(b"a", b"\xc1", db=dbs["streams"]))
    with journal.open(jdir) as j:
        problems = [(p.kind, p.stream_id) for p in j.verify().problems]
        assert ("undecodable", "a") in problems


def test_damaged_snapshot(jpath, two_streams):
    with journal.open(jpath) as j:
        j.save_snapshot("b", 3, {"total": 3})
    put_snapshot(jpath, "b", 3, b"\xc1\xc1")
    with journal.open(jpath) as j:
        with pytest.raises(CorruptRecord) as exc:
            j.load_snapshot("b")
        assert (exc.value.stream_id, exc.value.seq) == ("b", 3)
        with pytest.raises(CorruptRecord) as exc:
            j.load_snapshots("b")  # a range that holds it reports it too, by seq
        assert (exc.value.stream_id, exc.value.seq) == ("b", 3)
        assert [e.data for e in j.read("b")] == ["b1", "b2", "b3"]  # b's events are fine


def test_verify_reports_every_problem_not_just_the_first(jpath):
    with journal.open(jpath) as j:
        for k in range(5):
            j.append(f"s{k}", [Event("t", n) for n in range(3)])
    damaged = [2, 8, 14]
    for p in damaged:
        put_record(jpath, p, b"\xc1")
    with journal.open(jpath, readonly=True) as r:
        report = r.verify()
        assert sorted((p.kind, p.position) for p in report.problems) == [("undecodable", p) for p in damaged]
        assert {(p.stream_id, p.seq) for p in report.problems} == {("s0", 2), ("s2", 2), ("s4", 2)}
        assert [e.data for e in r.read("s1")] == [0, 1, 2]
        assert [e.data for e in r.read("s3")] == [0, 1, 2]
