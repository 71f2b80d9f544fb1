"""Concurrency, after eventsourcing's recorder tests: many writer threads, polling readers, and
atomic writes that must never interleave."""

from __future__ import annotations

import random
import threading
import time

import journal
from journal import AtomicWrite, Event, WrongExpectedVersion

from conftest import assert_positions_gap_free, assert_streams_gap_free


def _run_threads(targets) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a thread hung"
    return errors


def test_ten_writers_two_readers(j):
    n_threads, n_appends, per_write = 10, 100, 3
    total = n_threads * n_appends * per_write
    writers_done = threading.Event()
    reader_views: list[list[int]] = []

    def writer(k: int):
        def run():
            for n in range(n_appends):
                r = j.append(f"stream-{k}", [Event("e", {"w": f"{k}-{n}", "i": i, "size": per_write}) for i in range(per_write)])
                assert (r.first_seq, r.last_seq) == (n * per_write + 1, (n + 1) * per_write)

        return run

    def reader():
        last = 0
        seen: list[int] = []
        writes: dict[str, list[int]] = {}
        while True:
            done = writers_done.is_set()
            head = j.head()
            assert head >= last
            new = list(j.read_all(after=last))
            positions = [e.position for e in new]
            # What a reader sees is always a gap-free prefix of the log, picking up where it left off...
            assert positions == list(range(last + 1, last + 1 + len(new)))
            for e in new:
                writes.setdefault(e.data["w"], []).append(e.data["i"])
            if new:
                last = positions[-1]
                seen.extend(positions)
            # ...ending on a commit boundary: every atomic write in it is complete.
            assert all(v == list(range(per_write)) for v in writes.values())
            if done and last == total:
                break
            assert not done or new or last == j.head(), "reader stalled below the head"
        reader_views.append(seen)

    def run_writers():
        try:
            assert not _run_threads([writer(k) for k in range(n_threads)])
        finally:
            writers_done.set()

    errors = _run_threads([run_writers, reader, reader])
    assert errors == []
    assert len(reader_views) == 2 and all(v == list(range(1, total + 1)) for v in reader_views)
    assert j.head() == total
    events = assert_positions_gap_free(j)
    assert len(events) == total
    assert_streams_gap_free(j)
    assert {s.stream_id: s.highest_seq for s in j.streams()} == {f"stream-{k}": n_appends * per_write for k in range(n_threads)}
    # Group commit: concurrent appends shared transactions.
    assert j.commits < n_threads * n_appends
    assert j.verify().ok


def test_concurrent_atomic_writes_never_interleave(j):
    per_write, writes_per_thread = 50, 20
    results: dict[str, list] = {"a": [], "b": []}

    def writer(name: str):
        def run():
            for w in range(writes_per_thread):
                results[name].append(
                    # Both threads write to the same stream, to race on seqs as well as positions.
                    j.append("shared", [Event("e", {"t": name, "w": w, "i": i}) for i in range(per_write)])
                )

        return run

    assert _run_threads([writer("a"), writer("b")]) == []
    events = assert_positions_gap_free(j)
    assert len(events) == 2 * per_write * writes_per_thread
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # one stream: seq order == position order
    # Cut the log into runs of 50: each run must be exactly one atomic write, in order.
    for start in range(0, len(events), per_write):
        run = events[start : start + per_write]
        assert len({(e.data["t"], e.data["w"]) for e in run}) == 1, f"writes interleaved at position {run[0].position}"
        assert [e.data["i"] for e in run] == list(range(per_write))
    # Each ack describes exactly its own events.
    by_seq = {e.seq: e for e in events}
    for name, acks in results.items():
        assert [by_seq[a.first_seq].data["w"] for a in acks] == list(range(writes_per_thread))
        for a in acks:
            assert a.last_seq - a.first_seq == per_write - 1
            assert by_seq[a.last_seq].position == a.position
            assert {by_seq[s].data["t"] for s in range(a.first_seq, a.last_seq + 1)} == {name}


def test_concurrent_batches_are_atomic_per_write(j):
    """append_batch from several threads: every write stays contiguous and complete."""

    def writer(k: int):
        def run():
            for n in range(30):
                out = j.append_batch([AtomicWrite(f"s{(k + m) % 3}", [Event("e", {"w": f"{k}-{n}-{m}", "i": i}) for i in range(4)]) for m in range(3)])
                assert all(isinstance(r, journal.AppendResult) and r.last_seq - r.first_seq == 3 for r in out)

        return run

    assert _run_threads([writer(k) for k in range(4)]) == []
    events = assert_positions_gap_free(j)
    assert len(events) == 4 * 30 * 3 * 4
    for start in range(0, len(events), 4):
        run = events[start : start + 4]
        assert len({e.data["w"] for e in run}) == 1 and [e.data["i"] for e in run] == [0, 1, 2, 3]
        assert len({e.stream_id for e in run}) == 1
        assert [e.seq for e in run] == list(range(run[0].seq, run[0].seq + 4))
    assert_streams_gap_free(j)


def test_optimistic_concurrency_race_has_one_winner(j):
    """Threads that all expect the same highest seq: exactly one append wins each round."""
    n_threads, rounds = 8, 10
    barrier = threading.Barrier(n_threads)
    wins = [0] * n_threads
    conflicts = [0] * n_threads

    def contender(k: int):
        def run():
            for _ in range(rounds):
                barrier.wait(10)
                seen = j.highest_seq("counter")
                barrier.wait(10)  # everyone has read the same highest seq
                try:
                    j.append("counter", [Event("inc", k)], expected_seq=seen)
                    wins[k] += 1
                except WrongExpectedVersion as e:
                    assert e.actual == seen + 1 and e.expected == seen
                    conflicts[k] += 1
                barrier.wait(10)

        return run

    assert _run_threads([contender(k) for k in range(n_threads)]) == []
    assert sum(wins) == rounds
    assert sum(conflicts) == rounds * (n_threads - 1)
    assert [e.seq for e in j.read("counter")] == list(range(1, rounds + 1))
    assert j.head() == rounds


def test_close_while_threads_read_raises_only_journal_closed(jpath):
    """Readers racing a close get JournalClosed (a JournalError), never a raw LMDB error."""
    for _ in range(15):
        jr = journal.open(jpath, durability="nosync")
        if jr.head() == 0:
            for k in range(10):
                jr.append(f"s{k}", [Event("e", "x" * 100)] * 100)
        started = threading.Barrier(4)
        outcomes: list[BaseException | None] = []

        # Bound now: each round's threads must use that round's journal and lists.
        def reader(jr=jr, started=started, outcomes=outcomes):
            started.wait(10)
            try:
                while True:
                    for _e in jr.read_all():
                        pass
                    list(jr.read("s1"))
                    jr.head()
            except BaseException as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        started.wait(10)
        time.sleep(random.uniform(0.002, 0.02))  # let them get going: the close must land mid-operation
        jr.close()
        for t in threads:
            t.join(10)
            assert not t.is_alive()
        assert len(outcomes) == 3
        assert all(isinstance(e, journal.JournalClosed) for e in outcomes), [repr(e) for e in outcomes]


def test_close_while_threads_append(jpath):
    """Appends racing a close either commit (and are then readable) or raise JournalClosed."""
    for _ in range(10):
        jr = journal.open(jpath, durability="nosync")
        acked: list[journal.AppendResult] = []
        failures: list[BaseException] = []
        started = threading.Barrier(4)

        def writer(k: int, jr=jr, started=started, acked=acked, failures=failures):
            started.wait(10)
            try:
                while True:
                    acked.append(jr.append(f"w{k}", [Event("e", k)]))
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        started.wait(10)
        time.sleep(random.uniform(0.002, 0.02))  # let them get going: the close must land mid-operation
        jr.close()
        for t in threads:
            t.join(10)
            assert not t.is_alive(), "an append hung across close()"
        assert len(failures) == 3 and all(isinstance(e, journal.JournalClosed) for e in failures), failures
        with journal.open(jpath) as check:
            for a in acked:
                (e,) = check.read(a.stream_id, a.last_seq, a.last_seq)
                assert e.position == a.position
            assert check.verify().ok
