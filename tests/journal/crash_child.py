"""Child process for the SIGKILL crash test: appends forever, printing each acknowledged write.

    python crash_child.py PATH CHILD_NO [tolerant]

Prints "ready" once the journal is open, then one line per acknowledged atomic write,
``<stream> <last_seq> <n_events> <write_id>``, written and flushed only after append returns.
Every event carries its write id, its index in the write and the write's size, so the parent
can check that each write is all there or all absent. The parent SIGKILLs it at a random moment.

``tolerant`` (for a database server crashing under it): a write that fails with a JournalError
(the server gone, a commit of unknown outcome) prints ``error <ErrorClass>`` instead of an ack,
and the thread carries on writing.
"""

from __future__ import annotations

import random
import sys
import threading

import journal
from journal import AppendResult, AtomicWrite, Event

path, child_no = sys.argv[1], int(sys.argv[2])
tolerant = sys.argv[3:] == ["tolerant"]
# LMDB: a small initial map, so the map also grows (and a kill can land mid-growth).
j = journal.open(path, durability="sync", map_size=None if path.startswith("postgresql://") else 1 << 20)
out = threading.Lock()


def emit(line: str) -> None:
    with out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def make_write(rnd: random.Random, stream: str, wid: str, expected=journal.ANY) -> AtomicWrite:
    size = rnd.randint(1, 3)
    pad = "x" * (20_000 if rnd.random() < 0.05 else rnd.randrange(1500))  # now and then an overflow page
    return AtomicWrite(stream, [Event("e", {"w": wid, "i": i, "n": size, "pad": pad}) for i in range(size)], expected)


def worker(t: int) -> None:
    rnd = random.Random(child_no * 1000 + t)
    own = f"own-{t}"  # only this thread (of any child) writes here, so it can use exact expected seqs
    own_seq = j.highest_seq(own)
    n = 0
    while True:
        try:
            own_seq = step(rnd, t, own, own_seq, n := n + 1)
        except journal.JournalError as e:
            if not tolerant:
                raise
            emit(f"error {type(e).__name__}")
            own_seq = None  # unknown now: read it again


def step(rnd: random.Random, t: int, own: str, own_seq: int | None, n: int) -> int | None:
    """One write (or batch) of worker ``t``; returns its own stream's highest seq after it."""
    if own_seq is None:
        own_seq = j.highest_seq(own)
    wid = f"{child_no}.{t}.{n}"
    roll = rnd.random()
    if roll < 0.2:
        writes = [make_write(rnd, f"s{rnd.randrange(4)}", f"{wid}.{m}") for m in range(rnd.randint(2, 3))]
        results = j.append_batch(writes)
    elif roll < 0.4:
        writes = [make_write(rnd, own, wid, expected=own_seq)]
        results = [j.append(own, writes[0].events, expected_seq=own_seq)]
        own_seq = results[0].last_seq
    else:
        writes = [make_write(rnd, f"s{rnd.randrange(4)}", wid)]
        results = [j.append(writes[0].stream_id, writes[0].events)]
    for w, r in zip(writes, results, strict=True):
        assert isinstance(r, AppendResult), r
        assert r.last_seq - r.first_seq + 1 == len(w.events)
        emit(f"{r.stream_id} {r.last_seq} {len(w.events)} {w.events[0].data['w']}")
    return own_seq


emit("ready")
threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(3)]
for th in threads:
    th.start()
for th in threads:
    th.join()
