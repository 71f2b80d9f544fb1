"""Fixtures and helpers for the journal suite: real LMDB journals in tmp_path.

Child processes and their output: the shared ``support`` package (tests/support).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import journal


@pytest.fixture
def jpath(tmp_path: Path) -> str:
    """A directory for a journal; it does not exist yet (journal.open creates it)."""
    return str(tmp_path / "journal")


@pytest.fixture
def j(jpath: str):
    """A writable journal with the default durability ("sync")."""
    with journal.open(jpath) as jr:
        yield jr


def ev(type_: str = "e", data=None, **kw) -> journal.Event:
    return journal.Event(type_, data, **kw)


def assert_positions_gap_free(jr: journal.Journal) -> list[journal.RecordedEvent]:
    """All events in global order; positions must be exactly 1..head."""
    events = list(jr.read_all())
    assert [e.position for e in events] == list(range(1, jr.head() + 1))
    return events


def assert_streams_gap_free(jr: journal.Journal) -> None:
    for info in jr.streams():
        seqs = [e.seq for e in jr.read(info.stream_id)]
        assert seqs == list(range(info.deleted_to + 1, info.highest_seq + 1)), info
