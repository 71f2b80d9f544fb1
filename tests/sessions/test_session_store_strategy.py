"""The store strategy: the one place the two services differ, and "no checkpoints" said as None."""

from __future__ import annotations

import time

import pytest

import mob_actors as m
from mob_actors.sessions.store import JournalStore, MemoryStore
from mob_actors.testing import EchoAgent

from sessions_helpers import event_types, stream_of


def test_checkpoint_every_none_means_no_automatic_checkpoints_but_explicit_ones_work(persistent, jr):
    svc = persistent(checkpoint_every=None)
    s = svc.create_session(m.CreateSessionRequest())
    for n in range(60):  # more than the default of 50 events
        svc.start_turn(s.id, m.StartTurnRequest(f"q{n}"))
    time.sleep(0.05)  # an automatic checkpoint is told after the reply: give one the chance to show
    assert "checkpointed" not in event_types(jr, s.id)
    assert jr.load_snapshot(stream_of(s.id)) is None
    assert svc.checkpoint(s.id) is True
    assert event_types(jr, s.id)[-1] == "checkpointed"
    assert jr.load_snapshot(stream_of(s.id)).seq == 61


@pytest.mark.parametrize("bad", [0, -1])
def test_checkpoint_every_below_one_is_refused_before_the_journal_is_opened(tmp_path, bad):
    path = tmp_path / "never-opened"
    with pytest.raises(ValueError, match="checkpoint_every must be >= 1, or None"):
        m.PersistentSessionService(path, EchoAgent(), checkpoint_every=bad)
    with pytest.raises(ValueError, match="max_resident must be >= 1"):
        m.PersistentSessionService(path, EchoAgent(), max_resident=0)
    assert not path.exists()  # nothing was opened, so nothing leaks


def test_the_services_only_choose_a_store(persistent, ephemeral):
    """Both services are the shared SessionService over a store; neither overrides a method of it."""
    for cls in (m.PersistentSessionService, m.EphemeralSessionService):
        overridden = {name for name in vars(cls) if callable(vars(cls)[name]) and not name.startswith("__")}
        assert overridden == set(), f"{cls.__name__} overrides {overridden}"
    assert isinstance(persistent()._store, JournalStore) and persistent()._store.checkpoint_every == 50
    assert isinstance(ephemeral()._store, MemoryStore) and ephemeral()._store.checkpoint_every is None


def test_memory_store_keeps_the_final_state_of_archived_sessions_up_to_max_archived(ephemeral):
    svc = ephemeral(max_archived=2)
    ids = [svc.create_session(m.CreateSessionRequest(initial_prompt=f"p{n}")).id for n in range(3)]
    for session_id in ids:
        svc.archive(session_id)
    with pytest.raises(m.SessionNotFound):
        svc.read(ids[0])  # pushed out by two newer archived sessions
    for session_id in ids[1:]:
        assert svc.read(session_id).archived is True
        with pytest.raises(m.PersistenceDisabled) as ei:
            svc.read_history(session_id)
        assert ei.value.session_id == session_id
    assert svc.list_sessions() == []


def test_ephemeral_listing_drops_discarded_sessions_persistent_keeps_them(make_service):
    svc = make_service()
    a = svc.create_session(m.CreateSessionRequest()).id
    assert [r.id for r in svc.list_sessions()] == [a]  # the catalogue is built now
    b = svc.create_session(m.CreateSessionRequest()).id  # and kept current from here on
    svc.discard_live_session(a)
    rows = {r.id: r.is_live for r in svc.list_sessions()}
    if svc.supports_persistent_sessions():
        assert rows == {a: False, b: True}
    else:
        assert rows == {b: True}
