"""``Journal.stored_size``: the bytes of one stream's events and snapshots, and nothing else."""

from __future__ import annotations

import journal


def test_an_unknown_stream_takes_nothing(j: journal.Journal) -> None:
    assert j.stored_size("nobody") == journal.StoredSize(0, 0)
    assert j.stored_size("nobody").total == 0


def test_counts_each_event_record_of_the_stream_only(j: journal.Journal) -> None:
    j.append("a", [journal.Event("t", {"x": "y" * 100}) for _ in range(3)])
    j.append("ab", [journal.Event("t", {"x": "z" * 5000})])  # a neighbour whose id extends "a"
    size = j.stored_size("a")
    assert size.snapshots == 0
    # each event: its record (its data and the stream id at least), and its keys
    assert 3 * (100 + len("a")) < size.events < 3 * 300
    assert 5000 < j.stored_size("ab").events < 5300


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
