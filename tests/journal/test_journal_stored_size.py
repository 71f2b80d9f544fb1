"""``Journal.stored_size``: the bytes of one stream's events and snapshots, and nothing else."""

from __future__ import annotations

import journal
from journal import codec


def test_an_unknown_stream_takes_nothing(j: journal.Journal) -> None:
    assert j.stored_size("nobody") == journal.StoredSize(0, 0)
    assert j.stored_size("nobody").total == 0


def test_counts_each_event_record_and_index_entry_of_the_stream_only(j: journal.Journal) -> None:
    j.append("a", [journal.Event("t", {"x": "y" * 100}) for _ in range(3)])
    j.append("ab", [journal.Event("t", {"x": "z" * 5000})])  # a neighbour whose id extends "a"
    size = j.stored_size("a")
    assert size.snapshots == 0
    records = [e for e in j.read_all() if e.stream_id == "a"]
    key_len = len(codec.seq_key(b"a", 1))
    # each event: its record (at least its data), an index key, the position twice (key and value)
    assert size.events >= sum(100 + key_len + 16 for _ in records)
    assert size.events < 3 * (200 + key_len + 16)
    assert j.stored_size("ab").events > 5000 > size.events


def test_counts_snapshots_and_follows_their_deletion(j: journal.Journal) -> None:
    j.append("s", [journal.Event("t")])
    j.save_snapshot("s", 1, {"blob": "q" * 3000})
    with_snapshot = j.stored_size("s")
    assert with_snapshot.snapshots > 3000
    j.delete_snapshots("s", max_seq=1)
    assert j.stored_size("s").snapshots == 0
    assert j.stored_size("s").events == with_snapshot.events


def test_a_long_stream_is_counted_whole(j: journal.Journal) -> None:
    from journal.journal import READ_CHUNK

    n = READ_CHUNK * 2 + 7  # read in more than one chunk
    j.append("long", [journal.Event("t", "d" * 50) for _ in range(n)])
    j.append("solo", [journal.Event("t", "d" * 50)])
    one = j.stored_size("solo").events
    # ids of the same length; seqs above 127 take up to 2 more bytes per record
    assert n * one <= j.stored_size("long").events <= n * (one + 8)
