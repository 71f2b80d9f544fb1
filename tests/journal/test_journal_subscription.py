"""In-process subscriptions: catch-up, then live events; wakeups, close, filters."""

from __future__ import annotations

import queue
import statistics
import threading
import time

import pytest

import journal
from journal import Event

from conftest import ev


class Collector:
    """Iterates a subscription on its own thread, timestamping what arrives."""

    def __init__(self, sub: journal.Subscription) -> None:
        self.sub = sub
        self.items: queue.Queue[tuple[float, journal.RecordedEvent]] = queue.Queue()
        self.error: BaseException | None = None
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for e in self.sub:
                self.items.put((time.monotonic(), e))
        except BaseException as e:
            self.error = e
        finally:
            self.ended.set()

    def take(self, n: int, timeout: float = 5) -> list[journal.RecordedEvent]:
        out = []
        deadline = time.monotonic() + timeout
        for _ in range(n):
            try:
                out.append(self.items.get(timeout=max(0.0, deadline - time.monotonic()))[1])
            except queue.Empty:
                raise AssertionError(f"got {len(out)} of {n} events in {timeout}s") from None
        return out

    def nothing_more(self, wait: float = 0.15) -> bool:
        try:
            self.items.get(timeout=wait)
            return False
        except queue.Empty:
            return True


def test_existing_then_live(j):
    j.append("a", [ev("t", 1), ev("t", 2)])
    j.append("b", [ev("t", 3)])
    with j.subscribe() as sub:
        c = Collector(sub)
        assert [e.data for e in c.take(3)] == [1, 2, 3]
        assert c.nothing_more()
        j.append("a", [ev("t", 4)])
        j.append_batch([journal.AtomicWrite("c", [ev("t", 5), ev("t", 6)])])
        got = c.take(3)
        assert [(e.data, e.position, e.stream_id, e.seq) for e in got] == [(4, 4, "a", 3), (5, 5, "c", 1), (6, 6, "c", 2)]
        assert sub.position == 6
    assert c.ended.wait(2) and c.error is None


def test_subscribe_after_is_exclusive_and_catches_up_in_batches(j):
    j.append_batch([journal.AtomicWrite("s", [ev("t", n) for n in range(1, 701)])])
    with j.subscribe(after=50) as sub:
        c = Collector(sub)
        got = c.take(650)
        assert [e.position for e in got] == list(range(51, 701))
        assert c.nothing_more()
    with j.subscribe(after=700) as sub:
        c = Collector(sub)
        assert c.nothing_more()
        j.append("s", [ev("t", 701)])
        assert [e.position for e in c.take(1)] == [701]


def test_in_process_append_wakes_subscriber_at_once(j):
    """An in-process commit wakes a blocked subscriber without waiting for the poll interval."""
    with j.subscribe() as sub:
        c = Collector(sub)
        assert c.nothing_more(0.1)  # it is blocked now
        latencies = []
        for n in range(20):
            time.sleep(0.01)  # let it block again
            j.append("s", [ev("t", n)])
            appended = time.monotonic()
            arrived, e = c.items.get(timeout=5)
            assert e.data == n
            latencies.append(arrived - appended)
    # Polling every 50 ms would put the median near 25 ms; a wakeup is well under that.
    assert statistics.median(latencies) < 0.015, latencies


def test_close_from_another_thread_unblocks(j):
    j.append("s", [ev("t", 1)])
    sub = j.subscribe()
    c = Collector(sub)
    assert [e.data for e in c.take(1)] == [1]
    assert c.nothing_more(0.1) and not c.ended.is_set()  # blocked waiting for more
    closer = threading.Thread(target=sub.close)
    t0 = time.monotonic()
    closer.start()
    assert c.ended.wait(1), "close() did not unblock the iterating thread"
    assert time.monotonic() - t0 < 0.5
    closer.join(1)
    assert c.error is None
    j.append("s", [ev("t", 2)])
    with pytest.raises(StopIteration):  # a closed subscription stays finished
        next(sub)


def test_context_manager_closes(j):
    j.append("s", [ev("t", 1)])
    with j.subscribe() as sub:
        assert next(sub).data == 1
    with pytest.raises(StopIteration):
        next(sub)


def test_closing_the_journal_ends_subscriptions(jpath):
    jr = journal.open(jpath)
    jr.append("s", [ev("t", 1)])
    subs = [Collector(jr.subscribe()) for _ in range(3)]
    for c in subs:
        assert [e.data for e in c.take(1)] == [1]
    jr.close()
    for c in subs:
        assert c.ended.wait(2), "a subscription outlived its journal"
        assert c.error is None or isinstance(c.error, journal.JournalClosed)


def test_closing_the_journal_under_a_busy_subscription_ends_it_cleanly(jpath):
    """Catching up when the journal closes: iteration stops; no raw LMDB error escapes."""
    with journal.open(jpath, durability="nosync") as w:
        w.append_batch([journal.AtomicWrite(f"s{k}", [ev("t", "x" * 50)] * 500) for k in range(10)])
    for _ in range(10):
        jr = journal.open(jpath)
        cs = [Collector(jr.subscribe()) for _ in range(3)]
        time.sleep(0.01)
        jr.close()
        for c in cs:
            assert c.ended.wait(5)
            assert c.error is None, repr(c.error)


def test_filters(j):
    with j.subscribe(types=["placed"]) as by_type, j.subscribe(tags=["vip"]) as by_tag, j.subscribe(types="paid", tags="vip") as both:
        ct, cg, cb = Collector(by_type), Collector(by_tag), Collector(both)
        j.append("o-1", [ev("placed", 1, tags=("vip",)), ev("paid", 2)])
        j.append("o-2", [ev("placed", 3), ev("paid", 4, tags=("vip", "eu"))])
        j.append("o-3", [ev("shipped", 5, tags=("vip",))])
        assert [e.data for e in ct.take(2)] == [1, 3]
        assert [e.data for e in cg.take(3)] == [1, 4, 5]
        assert [e.data for e in cb.take(1)] == [4]
        assert ct.nothing_more() and cg.nothing_more(0.01) and cb.nothing_more(0.01)
        # Non-matching events still advance the position, so a resume does not rescan them.
        assert by_type.position == 5


def test_many_subscribers_and_writers(j):
    n_writers, per_writer = 4, 50
    cs = [Collector(j.subscribe()) for _ in range(3)]

    def writer(k):
        for n in range(per_writer):
            j.append(f"w{k}", [Event("e", (k, n))])

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(n_writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    total = n_writers * per_writer
    for c in cs:
        got = c.take(total, timeout=10)
        assert [e.position for e in got] == list(range(1, total + 1))
        c.sub.close()
        assert c.ended.wait(2)


def test_subscription_resumes_from_position(j):
    j.append("s", [ev("t", n) for n in range(5)])
    with j.subscribe() as sub:
        assert [next(sub).data for _ in range(3)] == [0, 1, 2]
        resume = sub.position
    # ``position`` is where a later subscription resumes without losing anything: the last
    # event handed out, even if more were already read ahead into a buffer.
    assert resume == 3
    j.append("s", [ev("t", 5)])
    with j.subscribe(after=resume) as sub2:
        assert [next(sub2).data for _ in range(3)] == [3, 4, 5]


def test_filtered_subscription_position_resumes_without_loss(j):
    j.append("s", [ev("a", 1), ev("b", 2), ev("a", 3), ev("b", 4), ev("a", 5)])
    with j.subscribe(types=["a"]) as sub:
        assert next(sub).data == 1
        resume = sub.position
    assert resume in (1, 2)  # nothing matching was skipped
    with j.subscribe(after=resume, types=["a"]) as sub2:
        assert [next(sub2).data for _ in range(2)] == [3, 5]
