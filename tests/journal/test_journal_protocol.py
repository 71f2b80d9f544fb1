"""Both backends satisfy the journal's contract, journal.EventJournal, and nothing of it is
LMDB's alone."""

from __future__ import annotations

import inspect

import journal
from journal import EventJournal, JournalSubscription
from journal.postgres import PgJournal


def _protocol_members() -> set[str]:
    return {n for n in EventJournal.__dict__ if not n.startswith("_") or n in ("__enter__", "__exit__")} - {"_is_protocol"}


def test_both_backends_are_event_journals(j, backend):
    assert isinstance(j, EventJournal)
    assert isinstance(j, PgJournal if backend == "pg" else journal.Journal)
    with j.subscribe() as sub:
        assert isinstance(sub, JournalSubscription)


def test_the_protocol_names_what_both_backends_offer_with_the_same_signatures(j):
    members = _protocol_members()
    # What mob_actors and mob-replay call (grep them): all of it is in the contract.
    for name in ("append", "append_batch", "read", "read_all", "head", "highest_seq", "streams", "delete_to",
                 "save_snapshot", "load_snapshot", "delete_snapshots", "subscribe", "verify", "register_upcaster",
                 "close", "path", "readonly", "closed", "commits", "try_lock", "unlock", "lock_owner"):
        assert name in members, name
    cls = type(j)
    assert all(hasattr(j, name) for name in members), [n for n in members if not hasattr(j, n)]
    for name in members:
        proto = EventJournal.__dict__[name]
        if callable(proto):
            want = [(p.name, p.kind) for p in inspect.signature(proto).parameters.values()]
            got = [(p.name, p.kind) for p in inspect.signature(getattr(cls, name)).parameters.values()]
            assert got == want, (cls.__name__, name)


def test_open_returns_the_backend_the_location_names(jdir, pg_url):
    with journal.open(jdir) as a, journal.open(pg_url) as b:
        assert type(a) is journal.Journal and type(b) is PgJournal
        assert a.path == jdir and b.path.startswith("postgresql://")
