"""Fixtures and helpers for the journal suite: real journals of both backends.

``jpath`` (and ``j``, a journal opened on it) is parametrised over the backends: an LMDB
directory in tmp_path, and a PostgreSQL URL of its own on the suite's throwaway server. Tests of
what only one backend has ask for ``jdir`` (LMDB) or ``pg_url`` instead.

Child processes and their output: the shared ``support`` package (tests/support).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import journal

BACKENDS = ("lmdb", "pg")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def jpath(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a journal goes, for each backend: it does not exist yet (journal.open creates it)."""
    if backend == "pg":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "journal")


@pytest.fixture
def jdir(tmp_path: Path) -> str:
    """A directory for an LMDB journal, for tests of what only LMDB has."""
    return str(tmp_path / "journal")


def is_pg(location: str) -> bool:
    return location.startswith("postgresql://")


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
