"""Random create / turn / context / discard / archive / revive / checkpoint / restart / rewind / fork
sequences against a plain in-memory model; every read is compared after every step."""

from __future__ import annotations

import shutil
import tempfile

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import mob_actors as m
from mob_actors.testing import EchoAgent

# The events that change the conversation; the model keeps the messages after each of them.
CONTENT = {"session_created", "turn_applied", "context_appended", "rewound"}


class SessionModel:
    def __init__(self, messages: list[dict]) -> None:
        self.messages = messages
        self.live = True
        self.archived = False
        self.armed = True
        self.points = [list(messages)]  # the messages after each CONTENT event, in order

    def changed(self) -> None:
        self.points.append(list(self.messages))


class PersistentSessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="sessions-stateful-")
        self.svc = self._open()
        self.model: dict[str, SessionModel] = {}
        self.order: list[str] = []  # creation order
        self.counter = 0

    def _open(self) -> m.PersistentSessionService:
        # small limits so checkpoints and passivation happen inside short runs
        return m.PersistentSessionService(self.dir, EchoAgent(), checkpoint_every=3, max_resident=2)

    def teardown(self) -> None:
        self.svc.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _prompt(self) -> str:
        self.counter += 1
        return f"p{self.counter}"

    def _pick(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(self.order), label="session")

    # -- rules ---------------------------------------------------------------------------------

    @rule(deferred=st.booleans(), system=st.booleans())
    def create(self, deferred: bool, system: bool) -> None:
        prompt = None if deferred else self._prompt()
        s = self.svc.create_session(m.CreateSessionRequest(initial_prompt=prompt, system_prompt="sys" if system else None))
        model = SessionModel([{"role": "system", "content": "sys"}] if system else [])
        if prompt is not None:
            model.messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"echo: {prompt}"}]
            model.changed()
        assert s.messages == model.messages
        self.model[s.id] = model
        self.order.append(s.id)

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def turn(self, data: st.DataObject) -> None:
        sid = self._pick(data)
        prompt = self._prompt()
        if not self.model[sid].live:
            try:
                self.svc.start_turn(sid, m.StartTurnRequest(prompt))
            except m.SessionNotFound:
                return
            raise AssertionError("a turn on a session that is not live must be SessionNotFound")
        r = self.svc.start_turn(sid, m.StartTurnRequest(prompt))
        self.model[sid].messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"echo: {prompt}"}]
        self.model[sid].changed()
        assert r.message_count == len(self.model[sid].messages)

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def context(self, data: st.DataObject) -> None:
        sid = self._pick(data)
        text = f"ctx {self._prompt()}"
        if not self.model[sid].live:
            try:
                self.svc.append_system_context(sid, text)
            except m.SessionNotFound:
                return
            raise AssertionError("context on a session that is not live must be SessionNotFound")
        assert self.svc.append_system_context(sid, text) == "applied"
        self.model[sid].messages.append({"role": "system", "content": text})
        self.model[sid].changed()

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def discard(self, data: st.DataObject) -> None:
        sid = self._pick(data)
        if not self.model[sid].live:
            try:
                self.svc.discard_live_session(sid)
            except m.SessionNotFound:
                return
            raise AssertionError("discarding a session that is not live must be SessionNotFound")
        self.svc.discard_live_session(sid)
        self.model[sid].live = False

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def archive(self, data: st.DataObject) -> None:
        sid = self._pick(data)
        if self.model[sid].archived:
            try:
                self.svc.archive(sid)
            except m.SessionNotFound:
                return
            raise AssertionError("archiving an archived session must be SessionNotFound")
        self.svc.archive(sid)  # live or durable-only
        self.model[sid].archived = True
        self.model[sid].live = False

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def revive(self, data: st.DataObject) -> None:
        sid = self._pick(data)
        s = self.svc.create_session(m.CreateSessionRequest(session_id=sid, initial_prompt="never run"))
        assert s.messages == self.model[sid].messages
        model = self.model[sid]
        if not model.live:
            model.armed = True  # a newly live session has a fresh gate
        model.live, model.archived = True, False

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def checkpoint(self, data: st.DataObject) -> None:
        sid = self._pick(data)
        if not self.model[sid].live:
            try:
                self.svc.checkpoint(sid)
            except m.SessionNotFound:
                return
            raise AssertionError("checkpoint of a session that is not live must be SessionNotFound")
        assert self.svc.checkpoint(sid) is self.model[sid].armed

    @rule()
    def cancel_all(self) -> None:
        self.svc.cancel_all_checkpointers()
        for model in self.model.values():
            if model.live:
                model.armed = False

    @rule()
    def rearm_all(self) -> None:
        self.svc.rearm_all_checkpointers()
        for model in self.model.values():
            if model.live:
                model.armed = True

    def _content_seqs(self, sid: str) -> list[int]:
        return [e.seq for e in self.svc.journal.read("session:" + sid) if e.type in CONTENT]

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def rewind(self, data: st.DataObject) -> None:
        sid = self._pick(data)
        model = self.model[sid]
        i = data.draw(st.integers(0, len(model.points) - 1), label="point")
        seqs = self._content_seqs(sid)
        assert len(seqs) == len(model.points)
        if not model.live:
            try:
                self.svc.rewind(sid, seqs[i])
            except m.SessionNotFound:
                return
            raise AssertionError("rewinding a session that is not live must be SessionNotFound")
        s = self.svc.rewind(sid, seqs[i])
        model.messages = list(model.points[i])
        assert s.messages == model.messages
        if len(self._content_seqs(sid)) > len(seqs):  # a rewind to the present records nothing
            model.changed()

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def fork(self, data: st.DataObject) -> None:
        sid = self._pick(data)
        model = self.model[sid]
        i = data.draw(st.integers(0, len(model.points) - 1), label="point")
        seq = self._content_seqs(sid)[i]
        before = list(self.svc.journal.read("session:" + sid))
        f = self.svc.fork_session(sid, at_seq=seq)  # live or only stored, archived too: the history is there
        assert f.messages == model.points[i]
        assert list(self.svc.journal.read("session:" + sid)) == before  # the source is untouched
        self.model[f.id] = SessionModel(list(model.points[i]))
        self.order.append(f.id)

    @rule()
    def restart(self) -> None:
        self.svc.shutdown()
        self.svc = self._open()
        for model in self.model.values():
            model.live = False

    # -- every read, after every step --------------------------------------------------------------

    @invariant()
    def reads_match_the_model(self) -> None:
        svc = self.svc
        listed = svc.list_sessions()
        assert [r.id for r in listed] == [sid for sid in self.order if not self.model[sid].archived]
        assert {r.id: r.is_live for r in listed} == {sid: self.model[sid].live for sid in self.order if not self.model[sid].archived}
        assert {r.id: r.message_count for r in listed} == {
            sid: len(self.model[sid].messages) for sid in self.order if not self.model[sid].archived
        }
        for sid in self.order:
            model = self.model[sid]
            s = svc.read(sid)
            assert s.id == sid and s.messages == model.messages and s.archived == model.archived
            assert svc.has_live_session(sid) == model.live
            n = len(model.messages)
            for offset, limit in ((0, None), (1, 2), (n, 1)):
                page = svc.read_history(sid, offset, limit)
                end = n if limit is None else min(n, offset + limit)
                assert page.message_count == n and page.messages == model.messages[min(offset, n):end]
                assert page.has_more == (end < n)
            persisted = svc.load_persisted_session(sid)
            if model.archived:
                assert persisted is None
            else:
                assert persisted is not None and persisted.messages == model.messages


PersistentSessionMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestPersistentSessions = PersistentSessionMachine.TestCase
