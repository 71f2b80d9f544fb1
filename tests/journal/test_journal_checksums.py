"""Every record and snapshot carries a CRC-32: damage that still decodes is caught, named, and
journals written before checksums still read.

The damage is done on the closed journal's raw LMDB environment, as a failing disk would: a
byte changed inside a stored value, the value otherwise well-formed.
"""

from __future__ import annotations

import os

import lmdb
import pytest

import journal
from journal import CorruptRecord, Event, codec

DBS = ("events", "index", "streams", "snapshots", "meta")


def _raw(path: str, fn):
    env = lmdb.open(path, max_dbs=5)
    try:
        dbs = {name: env.open_db(name.encode(), create=False) for name in DBS}
        with env.begin(write=True) as txn:
            return fn(txn, dbs)
    finally:
        env.close()


def _replace_in(path: str, db: str, key: bytes, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)

    def edit(txn, dbs):
        value = txn.get(key, db=dbs[db])
        assert old in value
        txn.put(key, value.replace(old, new, 1), db=dbs[db])

    _raw(path, edit)


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


@pytest.fixture
def written(jdir):
    with journal.open(jdir) as j:
        j.append("a", [Event("t", "alpha-1"), Event("t", "alpha-2")])  # positions 1, 2
        j.append("b", [Event("t", "beta-1")])  # 3
        j.append("a", [Event("t", "alpha-3")])  # 4
        j.save_snapshot("a", 3, {"sum": "snapshot-3"})
        assert j.verify().ok
    return jdir


def test_a_changed_byte_that_still_decodes_is_a_corrupt_record(written):
    _replace_in(written, "events", _u64(2), b"alpha-2", b"alpha-X")
    with journal.open(written) as j:
        with pytest.raises(CorruptRecord) as exc:
            list(j.read("a"))
        assert (exc.value.stream_id, exc.value.seq, exc.value.position) == ("a", 2, 2)
        assert "checksum" in str(exc.value)
        with pytest.raises(CorruptRecord) as exc:
            list(j.read_all())
        assert exc.value.position == 2
        assert [e.data for e in j.read("b")] == ["beta-1"]  # the neighbours read normally
        assert [e.data for e in j.read("a", 3)] == ["alpha-3"]
        report = j.verify()
        assert [(p.kind, p.stream_id, p.seq, p.position) for p in report.problems] == [("checksum", "a", 2, 2)]
        assert not report.ok and report.no_checksum == []


def test_a_changed_byte_in_a_snapshot_is_a_corrupt_record(written):
    _replace_in(written, "snapshots", b"a\x00" + _u64(3), b"snapshot-3", b"snapshot-X")
    with journal.open(written) as j:
        with pytest.raises(CorruptRecord) as exc:
            j.load_snapshot("a")
        assert (exc.value.stream_id, exc.value.seq) == ("a", 3) and "checksum" in str(exc.value)
        report = j.verify()
        assert [(p.kind, p.stream_id, p.seq) for p in report.problems] == [("checksum", "a", 3)]
        assert report.snapshots_checked == 1
        assert [e.data for e in j.read("a")] == ["alpha-1", "alpha-2", "alpha-3"]


def test_the_writer_stores_exactly_what_the_codec_encodes(written):
    """One encoding for every backend: the writer's spliced bytes are codec.encode_record's."""
    with journal.open(written, readonly=True) as j:
        (e,) = j.read("a", 2, 2)
    stored = _raw(written, lambda txn, dbs: txn.get(_u64(2), db=dbs["events"]))
    body = codec.encode_body("a", 0, Event("t", "alpha-2"))
    assert stored == codec.encode_record("a", 2, body, e.timestamp_ms)
    assert codec.is_sealed(stored) and codec.decode_record(stored, 2) == e
    with pytest.raises(codec.ChecksumMismatch):
        codec.decode_record(stored[:-1] + bytes([stored[-1] ^ 1]), 2)


def _legacy_journal(path: str) -> None:
    """A journal as format 1 wrote it: no marker, no creation id, records and a snapshot
    without checksums (array headers 0x94 and 0x93)."""
    with journal.open(path) as j:  # the databases; then every value replaced by its legacy form
        j.append("old", [Event("t", n) for n in range(1, 4)])
        j.save_snapshot("old", 2, {"n": 2})

    def legacy(txn, dbs):
        for pos in (1, 2, 3):
            e = codec.decode_record(txn.get(_u64(pos), db=dbs["events"]), pos)
            body = codec.pack([e.type, e.data, e.metadata, list(e.tags), e.version])
            txn.put(_u64(pos), b"\x94" + codec.pack("old") + codec.pack(e.seq) + body + codec.pack(e.timestamp_ms), db=dbs["events"])
        key = b"old\x00" + _u64(2)
        ts, state, meta = codec.decode_snapshot(txn.get(key, db=dbs["snapshots"]))
        txn.put(key, b"\x93" + codec.pack(ts) + codec.pack(state) + codec.pack(meta), db=dbs["snapshots"])
        txn.delete(b"creation_id", db=dbs["meta"])

    _raw(path, legacy)
    os.unlink(os.path.join(path, "journal.format"))


def test_records_written_before_checksums_still_read_and_verify_lists_them(jdir):
    _legacy_journal(jdir)
    with journal.open(jdir, readonly=True) as r:
        assert [e.data for e in r.read("old")] == [1, 2, 3]
        assert r.load_snapshot("old").state == {"n": 2}
        report = r.verify()
        assert report.ok
        assert report.no_checksum == [(1, 3)] and report.no_checksum_snapshots == [("old", 2)]
    with journal.open(jdir) as j:  # a writer marks it and appends sealed records after them
        j.append("old", [Event("t", 4)])
        j.append("new", [Event("t", 5)])
        assert [e.data for e in j.read_all()] == [1, 2, 3, 4, 5]
        report = j.verify()
        assert report.ok and report.no_checksum == [(1, 3)]
