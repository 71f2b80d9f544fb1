"""Model-based test: random sequences of journal operations against a plain-Python model."""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import journal
from journal import ANY, NO_STREAM, STREAM_EXISTS, AppendResult, AtomicWrite, Event, Rejected, WrongExpectedVersion

STREAMS = st.sampled_from(["a", "b", "ab", "b-1"])
DATA = st.one_of(st.none(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=20), st.binary(max_size=20),
                 st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=3))
EVENTS = st.lists(st.tuples(st.sampled_from(["x", "y"]), DATA, st.lists(st.sampled_from(["t1", "t2"]), max_size=2, unique=True)), min_size=0, max_size=4)
EXPECT = st.one_of(st.sampled_from([ANY, NO_STREAM, STREAM_EXISTS, "exact", "exact+1"]), st.integers(0, 6))


class JournalModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="journal-model-")
        self.j = journal.open(self.dir, durability="nosync")
        self.log: list[tuple[str, int, tuple]] = []  # (stream, seq, (type, data, tags)) by position - 1
        self.deleted: set[int] = set()  # positions removed by delete_to
        self.highest: dict[str, int] = {}
        self.deleted_to: dict[str, int] = {}

    def teardown(self) -> None:
        self.j.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _expected(self, stream: str, expect):
        if expect == "exact":
            return self.highest.get(stream, 0)
        if expect == "exact+1":
            return self.highest.get(stream, 0) + 1
        return expect

    def _model_write(self, stream: str, events, expect) -> AppendResult | WrongExpectedVersion:
        h = self.highest.get(stream, 0)
        if (expect is NO_STREAM and h != 0) or (expect is STREAM_EXISTS and h == 0) or (isinstance(expect, int) and expect != h):
            return WrongExpectedVersion(stream, expect, h)
        for n, e in enumerate(events, start=1):
            self.log.append((stream, h + n, e))
        if events:
            self.highest[stream] = h + len(events)
            self.deleted_to.setdefault(stream, 0)
        return AppendResult(stream, h + 1, h + len(events), len(self.log))

    @rule(stream=STREAMS, events=EVENTS, expect=EXPECT)
    def append(self, stream, events, expect):
        expect = self._expected(stream, expect)
        want = self._model_write(stream, events, expect)
        try:
            got = self.j.append(stream, [Event(t, d, tags=tuple(tags)) for t, d, tags in events], expected_seq=expect)
        except WrongExpectedVersion as e:
            assert isinstance(want, WrongExpectedVersion) and e.actual == want.actual
        else:
            assert isinstance(want, AppendResult)
            if events:
                assert got == want
            else:
                assert (got.stream_id, got.first_seq, got.last_seq) == (stream, want.first_seq, want.last_seq)

    @rule(writes=st.lists(st.tuples(STREAMS, EVENTS, EXPECT), max_size=4))
    def append_batch(self, writes):
        batch, wants = [], []
        for stream, events, expect in writes:
            expect = self._expected(stream, expect)
            batch.append(AtomicWrite(stream, [Event(t, d, tags=tuple(tags)) for t, d, tags in events], expect))
            wants.append(self._model_write(stream, events, expect))
        got = self.j.append_batch(batch)
        assert len(got) == len(wants)
        for g, w, (_, events, _) in zip(got, wants, writes, strict=True):
            if isinstance(w, WrongExpectedVersion):
                assert isinstance(g, Rejected) and isinstance(g.error, WrongExpectedVersion) and g.error.actual == w.actual
            elif events:
                assert g == w

    @precondition(lambda self: self.highest)
    @rule(data=st.data())
    def delete_to(self, data):
        stream = data.draw(st.sampled_from(sorted(self.highest)))
        seq = data.draw(st.integers(0, self.highest[stream] + 2))
        self.j.delete_to(stream, seq)
        upto = min(seq, self.highest[stream])
        if upto > self.deleted_to[stream]:
            self.deleted_to[stream] = upto
        for pos, (s, q, _) in enumerate(self.log, start=1):
            if s == stream and q <= upto:
                self.deleted.add(pos)

    @rule(stream=STREAMS, from_seq=st.integers(0, 8), to_seq=st.one_of(st.none(), st.integers(0, 8)), max_count=st.one_of(st.none(), st.integers(0, 5)))
    def read_range(self, stream, from_seq, to_seq, max_count):
        want = [q for p, (s, q, _) in enumerate(self.log, start=1) if s == stream and p not in self.deleted and q >= from_seq and (to_seq is None or q <= to_seq)]
        if max_count is not None:
            want = want[:max_count]
        assert [e.seq for e in self.j.read(stream, from_seq, to_seq, max_count)] == want

    @rule(after=st.integers(0, 12), limit=st.one_of(st.none(), st.integers(0, 5)),
          types=st.one_of(st.none(), st.lists(st.sampled_from(["x", "y"]), max_size=2)),
          tags=st.one_of(st.none(), st.lists(st.sampled_from(["t1", "t2"]), max_size=2)))
    def read_all(self, after, limit, types, tags):
        want = [p for p, (_, _, (t, _, tg)) in enumerate(self.log, start=1)
                if p > after and p not in self.deleted and (types is None or t in types) and (tags is None or set(tags) & set(tg))]
        if limit is not None:
            want = want[:limit]
        assert [e.position for e in self.j.read_all(after, limit=limit, types=types, tags=tags)] == want

    @invariant()
    def matches_model(self):
        assert self.j.head() == len(self.log)
        got = [(e.stream_id, e.seq, (e.type, e.data, list(e.tags))) for e in self.j.read_all()]
        want = [(s, q, (t, d, list(tg))) for p, (s, q, (t, d, tg)) in enumerate(self.log, start=1) if p not in self.deleted]
        assert got == want
        assert {i.stream_id: (i.highest_seq, i.deleted_to) for i in self.j.streams()} == {s: (h, self.deleted_to[s]) for s, h in self.highest.items()}
        for s in ["a", "b", "ab", "b-1"]:
            assert self.j.highest_seq(s) == self.highest.get(s, 0)


JournalModel.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_journal_model = JournalModel.TestCase
