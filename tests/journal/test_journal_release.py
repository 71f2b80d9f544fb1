"""The writer's chained release on its own (journal/release.py), and in a real writer.

A committed caller is woken by the caller before it, not by the writer: these tests check that
every caller is woken exactly once with its own outcome, whatever the others do.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

import journal
from journal.release import ReleaseChain, Request
from journal.storage import acquire, release
from journal.writer import Writer


class Interrupted(Exception):
    """Raised in the main thread by a signal handler, as KeyboardInterrupt would be."""


def _waiters(requests: list[Request]) -> tuple[list[threading.Thread], dict[int, object]]:
    """Start one thread per request, blocked in wait(); outcomes by index."""
    outcomes: dict[int, object] = {}

    def wait(i: int, r: Request) -> None:
        try:
            outcomes[i] = r.wait()
        except BaseException as e:
            outcomes[i] = e

    threads = [threading.Thread(target=wait, args=(i, r), daemon=True) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    return threads, outcomes


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(5)
        assert not t.is_alive(), "a caller was never woken"


def _interrupt_main_in(seconds: float) -> None:
    def handler(signum: int, frame: object) -> None:
        raise Interrupted

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


@pytest.fixture
def restore_alarm():
    old = signal.getsignal(signal.SIGALRM)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


def test_empty_chain_releases_nothing_and_does_not_fail():
    chain = ReleaseChain()
    assert not chain.holding
    chain.release()  # nothing held
    chain.hold([])
    assert not chain.holding
    chain.release()
    chain.hold([])  # holding nothing again after nothing


def test_a_held_commit_wakes_every_caller_once_with_its_own_result():
    chain = ReleaseChain()
    requests = [chain.request(lambda state: None) for _ in range(20)]
    for i, r in enumerate(requests):
        r.result = i
    threads, outcomes = _waiters(requests)
    chain.hold(requests)
    assert chain.holding
    time.sleep(0.05)
    assert outcomes == {}  # held: durable, but nobody woken yet
    chain.release()
    assert not chain.holding
    _join(threads)
    assert outcomes == {i: i for i in range(20)}


def test_hold_wakes_the_callers_of_the_commit_before():
    chain = ReleaseChain()
    first = [chain.request(lambda state: None) for _ in range(3)]
    second = [chain.request(lambda state: None) for _ in range(3)]
    for r in first + second:
        r.result = "ok"
    threads, outcomes = _waiters(first + second)
    chain.hold(first)
    chain.hold(second)  # the first commit's callers must not stay held behind the second
    _join(threads[:3])
    assert sorted(outcomes) == [0, 1, 2]  # the second commit's callers are still held
    chain.release()
    _join(threads[3:])
    assert sorted(outcomes) == list(range(6))


def test_a_caller_interrupted_before_the_release_is_skipped(restore_alarm):
    chain = ReleaseChain()
    before, interrupted, after = (chain.request(lambda state: None) for _ in range(3))
    before.result, after.result = "before", "after"
    threads, outcomes = _waiters([before, after])
    _interrupt_main_in(0.05)
    with pytest.raises(Interrupted):
        interrupted.wait()  # blocks in the main thread until the signal
    chain.hold([before, interrupted, after])
    chain.release()
    _join(threads)
    assert outcomes == {0: "before", 1: "after"}  # the caller after it was still woken


def test_a_caller_interrupted_inside_a_linked_chain_passes_the_release_on(restore_alarm):
    """The chain is linked and its head released, but the head's caller has not woken yet when
    the middle caller is interrupted: the interrupted one wakes the tail itself, and the head's
    later wake-up of the interrupted one harms nothing."""
    chain = ReleaseChain()
    head, middle, tail = (chain.request(lambda state: None) for _ in range(3))
    head.result, tail.result = "head", "tail"
    tail_threads, outcomes = _waiters([tail])
    chain.hold([head, middle, tail])
    chain.release()  # links head -> middle -> tail and releases head; nobody waits on head yet
    assert head.next is middle and middle.next is tail
    _interrupt_main_in(0.05)
    with pytest.raises(Interrupted):
        middle.wait()
    _join(tail_threads)
    assert outcomes == {0: "tail"}
    assert head.wait() == "head"  # and the head's caller, arriving late, still gets its result


def test_a_failure_in_the_middle_of_a_batch_reaches_only_its_caller():
    """The writer releases a failed request at once and holds the committed others."""
    chain = ReleaseChain()
    ok1, failed, ok2 = (chain.request(lambda state: None) for _ in range(3))
    ok1.result, ok2.result = 1, 2
    threads, outcomes = _waiters([ok1, failed, ok2])
    failed.error = journal.JournalError("this write failed")
    failed.release()
    threads[1].join(5)
    assert isinstance(outcomes[1], journal.JournalError)
    assert 0 not in outcomes and 2 not in outcomes
    chain.hold([ok1, ok2])
    chain.release()
    _join(threads)
    assert outcomes[0] == 1 and outcomes[2] == 2


def test_a_real_writer_batch_with_a_failing_request_in_the_middle(tmp_path):
    """Three requests committed in one transaction, the middle one raising: the others commit."""
    storage = acquire(str(tmp_path), None, create=True, sync=True)
    writer = Writer(storage, durable=True)
    try:
        gate = threading.Event()
        blocker = threading.Thread(target=writer.submit, args=(lambda state: gate.wait(10),))
        blocker.start()  # keeps the writer inside its first transaction while the batch queues up
        time.sleep(0.05)
        meta = storage.dbs["meta"]

        def put(key: bytes):
            return lambda state: state.txn.put(key, b"v", db=meta) and key

        def fail(state):
            raise ValueError("bad write")

        outcomes: dict[int, object] = {}

        def call(i: int, apply) -> None:
            try:
                outcomes[i] = writer.submit(apply)
            except BaseException as e:
                outcomes[i] = e

        callers = []
        for i, apply in enumerate([put(b"k1"), fail, put(b"k2")]):
            callers.append(threading.Thread(target=call, args=(i, apply)))
            callers[-1].start()
            time.sleep(0.02)  # queued in this order
        commits_before = writer.commits
        gate.set()
        blocker.join(5)
        _join(callers)
        assert outcomes[0] == b"k1" and outcomes[2] == b"k2"
        assert isinstance(outcomes[1], journal.JournalError) and "bad write" in str(outcomes[1])
        assert writer.commits == commits_before + 2  # the blocker's commit, then the batch's one
        assert storage.read(lambda txn: (txn.get(b"k1", db=meta), txn.get(b"k2", db=meta))) == (b"v", b"v")
    finally:
        writer.close()
        release(storage)
