"""The LMDB map grows by itself: a tiny map_size never makes an append fail."""

from __future__ import annotations

import os
import threading

import journal
from journal import AtomicWrite, Event

from conftest import assert_positions_gap_free, assert_streams_gap_free

SMALL = 1 << 20  # 1 MiB


def test_tiny_map_takes_8mb_from_two_threads_with_a_reader(jdir):
    per_event, per_thread = 10_000, 400  # 2 threads x 400 x 10 KB = 8 MB
    errors: list[BaseException] = []
    done = threading.Event()
    reads = [0]

    with journal.open(jdir, map_size=SMALL) as j:

        def writer(k: int):
            try:
                for n in range(per_thread):
                    payload = os.urandom(per_event // 2).hex()  # incompressible, exactly 10 KB
                    if n % 10 == 0:
                        r = j.append_batch([AtomicWrite(f"w{k}", [Event("blob", payload)])])[0]
                    else:
                        r = j.append(f"w{k}", [Event("blob", payload)])
                    assert isinstance(r, journal.AppendResult) and r.last_seq == n + 1
            except BaseException as e:
                errors.append(e)

        def reader():
            # Reads run while the writer grows the map under them.
            try:
                while not done.is_set():
                    reads[0] += sum(1 for _ in j.read_all(after=max(0, j.head() - 50)))
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
        rt = threading.Thread(target=reader)
        rt.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        done.set()
        rt.join(10)
        assert errors == []
        assert reads[0] > 0
        events = assert_positions_gap_free(j)
        assert len(events) == 2 * per_thread
        assert all(len(e.data) == per_event for e in events)
        assert_streams_gap_free(j)
        assert j.verify().ok
    assert os.path.getsize(os.path.join(jdir, "data.mdb")) > 8 * SMALL  # it really outgrew the map
    # And the grown journal reopens with the same tiny map_size.
    with journal.open(jdir, map_size=SMALL) as j:
        assert sum(1 for _ in j.read_all()) == 2 * per_thread
        j.append("w0", [Event("blob", "after reopen")])
        assert j.highest_seq("w0") == per_thread + 1


def test_one_write_larger_than_the_map(jdir):
    with journal.open(jdir, map_size=SMALL) as j:
        big = os.urandom(3 * SMALL)  # needs several doublings in one go
        r = j.append("big", [Event("blob", big), Event("small", 1)])
        assert (r.first_seq, r.last_seq) == (1, 2)
        j.save_snapshot("big", 2, {"state": big})
        assert [e.data for e in j.read("big")] == [big, 1]
        assert j.load_snapshot("big").state == {"state": big}


def test_growth_mid_batch_keeps_every_write_and_rejection(jdir):
    """A full map aborts and retries the whole group commit: results stay one per write."""
    with journal.open(jdir, map_size=SMALL) as j:
        blob = "q" * 50_000
        writes = [AtomicWrite(f"s{n % 3}", [Event("blob", blob)] * 2) for n in range(40)]  # 4 MB in one commit
        writes.insert(17, AtomicWrite("s0", [Event("bad", object())]))
        writes.insert(30, AtomicWrite("s1", [Event("blob", "x")], expected_seq=journal.NO_STREAM))
        results = j.append_batch(writes)
        assert len(results) == 42
        assert isinstance(results[17], journal.Rejected) and isinstance(results[30], journal.Rejected)
        ok = [r for r in results if isinstance(r, journal.AppendResult)]
        assert len(ok) == 40 and [r.position for r in ok] == list(range(2, 82, 2))
        assert_positions_gap_free(j)
        assert_streams_gap_free(j)
