"""``Event.timestamp_ms``: an event copied from another journal keeps its time; others get the commit's."""

from __future__ import annotations

import time

import pytest

import journal


def test_an_event_keeps_the_time_it_is_given(j: journal.Journal) -> None:
    before = time.time_ns() // 1_000_000
    j.append("s", [journal.Event("old", timestamp_ms=1_000), journal.Event("new")])
    j.append_batch([journal.AtomicWrite("t", [journal.Event("older", timestamp_ms=5)])])
    old, new = j.read("s")
    assert old.timestamp_ms == 1_000
    assert new.timestamp_ms >= before
    assert [e.timestamp_ms for e in j.read("t")] == [5]
    assert [e.timestamp_ms for e in j.read_all()][:2] == [1_000, new.timestamp_ms]


@pytest.mark.parametrize("bad", ["1000", -1, 1.5, True, 2**63])
def test_a_bad_timestamp_is_refused_and_nothing_written(j: journal.Journal, bad: object) -> None:
    with pytest.raises(journal.EventRejected, match="timestamp_ms"):
        j.append("s", [journal.Event("fine"), journal.Event("bad", timestamp_ms=bad)])  # type: ignore[arg-type]
    assert j.highest_seq("s") == 0
