"""What only the PostgreSQL journal has: its schema, many writing processes, wakeups by
LISTEN/NOTIFY, ownership locks, durability settings and lost connections. (Everything both
backends share runs against it through the parametrised suite.)"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import statistics
import subprocess
import threading
import time

import psycopg
import pytest

import journal
from journal import Event
from journal.postgres import SCHEMA_VERSION, PgJournal
from journal.postgres import writer as pg_writer
from journal.postgres.ops import SessionOp

from support import Lines, spawn


def _sql(url: str, statement: str, *params) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


# -- opening and the schema ------------------------------------------------------------------


def test_first_open_creates_the_tables_and_stores_the_version(pg_url):
    schema = pg_url.rsplit("%3D", 1)[1]
    assert _sql(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = %s", schema) == [(0,)]
    with journal.open(pg_url) as j:
        assert isinstance(j, PgJournal)
        assert "password" not in j.path and j.path.startswith("postgresql://")
    tables = {r[0] for r in _sql(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = %s", schema)}
    assert tables == {"journal_meta", "journal_head", "journal_events", "journal_streams", "journal_snapshots"}
    assert _sql(pg_url, "SELECT value FROM journal_meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    with journal.open(pg_url) as j:  # a second open finds them and changes nothing
        assert j.head() == 0


def test_a_newer_schema_is_refused_and_left_alone(pg_url):
    with journal.open(pg_url) as j:
        j.append("s", [Event("e", 1)])
    _sql(pg_url, "UPDATE journal_meta SET value = %s WHERE key = 'schema_version'", str(SCHEMA_VERSION + 1))
    for readonly in (False, True):
        with pytest.raises(journal.UnsupportedFormat, match="newer") as exc:
            journal.open(pg_url, readonly=readonly)
        assert isinstance(exc.value, journal.JournalError)
        assert f"schema version {SCHEMA_VERSION + 1}" in str(exc.value) and "Upgrade" in str(exc.value)
    assert _sql(pg_url, "SELECT count(*) FROM journal_events") == [(1,)]


def test_readonly_open_of_a_database_without_a_journal_creates_nothing(pg_url):
    with pytest.raises(journal.JournalError, match="no journal") as exc:
        journal.open(pg_url, readonly=True)
    assert "readonly" in str(exc.value)
    schema = pg_url.rsplit("%3D", 1)[1]
    assert _sql(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = %s", schema) == [(0,)]


def test_an_unreachable_server_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here
    t0 = time.monotonic()
    with pytest.raises(journal.JournalUnavailable, match="cannot connect"):
        journal.open(f"postgresql://postgres:secret@127.0.0.1:{port}/nothing")
    assert time.monotonic() - t0 < 10


def test_map_size_is_refused_for_postgresql(pg_url):
    with pytest.raises(ValueError, match="LMDB"):
        journal.open(pg_url, map_size=1 << 20)


def _writer_setting(j: PgJournal, name: str) -> str:
    """A setting as the writer's own connection sees it (asked on the writer thread)."""
    return j._writer.submit(SessionOp(lambda conn, held: conn.execute(f"SHOW {name}").fetchone()[0]))


def test_durability_sets_synchronous_commit_on_the_writer(pg_url):
    # Even where the database's default is off, "sync" means synchronous_commit=on.
    off_by_default = pg_url + "%20-csynchronous_commit%3Doff"
    with journal.open(off_by_default, durability="sync") as j:
        assert _writer_setting(j, "synchronous_commit") == "on"
    with journal.open(pg_url, durability="nosync") as j:
        assert _writer_setting(j, "synchronous_commit") == "off"
        j.append("s", [Event("e")])
    with journal.open(pg_url, readonly=True) as r:
        assert [e.seq for e in r.read("s")] == [1]


def test_readonly_connections_cannot_write_even_by_mistake(pg_url):
    with journal.open(pg_url) as w:
        w.append("s", [Event("e")])
    with journal.open(pg_url, readonly=True) as r:
        with pytest.raises(journal.ReadOnlyJournal):
            r.try_lock("x")
        with pytest.raises(journal.JournalError, match="read-only"):
            r._read("UPDATE journal_head SET position = 0")  # the session itself refuses writes
        assert r.head() == 1


# -- several writing processes ---------------------------------------------------------------

WRITER = """
import sys, journal
url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with journal.open(url) as j:
    print("ready", flush=True)
    sys.stdin.readline()
    for k in range(n):
        r = j.append(f"{name}-{k % 3}", [journal.Event("e", {"w": name, "k": k, "i": i}) for i in range(1 + k % 2)])
        print(r.stream_id, r.last_seq, r.position, flush=True)
"""


def test_two_writer_processes_share_one_gap_free_commit_ordered_log(pg_url):
    with journal.open(pg_url) as j:
        j.append("seed", [Event("e")])
    procs = [spawn("-c", WRITER, pg_url, name, 150, stdin=subprocess.PIPE) for name in ("a", "b")]
    lines = [Lines(p) for p in procs]
    for lin in lines:
        assert lin.line() == "ready"
    tail_seen: list[int] = []
    stop = threading.Event()

    def tail() -> None:  # a third reader polling the log while both write: never a gap
        with journal.open(pg_url, readonly=True) as r:
            last = 0
            while not stop.is_set():
                new = [e.position for e in r.read_all(after=last)]
                assert new == list(range(last + 1, last + 1 + len(new))), new[:5]
                tail_seen.extend(new)
                last = new[-1] if new else last

    tailer = threading.Thread(target=tail)
    tailer.start()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        assert p.wait(60) == 0, p.stderr.read()
    stop.set()
    tailer.join(30)
    acks = [(*map(int, line.split()[1:]), line.split()[0]) for lin in lines for line in lin.finish()[1:]]
    assert len(acks) == 300
    with journal.open(pg_url, readonly=True) as r:
        events = list(r.read_all())
        head = r.head()
        assert [e.position for e in events] == list(range(1, head + 1))
        assert head == 1 + sum(1 + k % 2 for k in range(150)) * 2
        by_pos = {e.position: e for e in events}
        for last_seq, position, stream in acks:
            e = by_pos[position]
            assert (e.stream_id, e.seq) == (stream, last_seq)
        for info in r.streams():
            assert [e.seq for e in r.read(info.stream_id)] == list(range(1, info.highest_seq + 1))
        # Both really wrote at once: their events interleave in the log.
        writers = [e.data["w"] for e in events[1:]]
        switches = sum(1 for x, y in itertools.pairwise(writers) if x != y)
        assert switches > 5, switches
        assert r.verify().ok
    assert tail_seen == list(range(1, len(tail_seen) + 1))


def test_expected_seq_fences_a_second_process(pg_url):
    """Two openers (as two hosts would be) racing on one stream: exactly one wins each seq."""
    with journal.open(pg_url) as a, journal.open(pg_url) as b:
        a.append("s", [Event("e", "a1")], expected_seq=journal.NO_STREAM)
        seen_by_b = b.highest_seq("s")
        a.append("s", [Event("e", "a2")], expected_seq=1)
        with pytest.raises(journal.WrongExpectedVersion) as exc:
            b.append("s", [Event("e", "b2")], expected_seq=seen_by_b)
        assert exc.value.actual == 2
        assert [e.data for e in b.read("s")] == ["a1", "a2"]


# -- subscriptions woken by NOTIFY -------------------------------------------------------------

SUBSCRIBER = """
import sys, time, journal
with journal.open(sys.argv[1], readonly=True) as j, j.subscribe(after=j.head()) as sub:
    print("ready", flush=True)
    for e in sub:
        print(e.position, time.monotonic(), flush=True)
"""


def test_a_subscriber_in_another_process_is_woken_at_commit(pg_url):
    with journal.open(pg_url) as w:
        w.append("s", [Event("e")])
        proc = spawn("-c", SUBSCRIBER, pg_url)
        lines = Lines(proc)
        try:
            assert lines.line() == "ready"
            latencies = []
            for n in range(15):
                time.sleep(0.02 + 0.01 * (n % 3))
                t0 = time.monotonic()
                r = w.append("s", [Event("e", n)])
                pos, arrived = lines.line().split()
                assert int(pos) == r.position
                latencies.append(float(arrived) - t0)  # one monotonic clock for the machine
        finally:
            proc.kill()
            proc.wait(10)
    # Without the notification it would poll (every second): the median would be ~0.5 s.
    assert statistics.median(latencies) < 0.1, latencies


def test_a_lost_listening_connection_misses_nothing(pg_url):
    with journal.open(pg_url) as w, journal.open(pg_url, readonly=True) as r:
        sub = r.subscribe()
        got: list[int] = []
        t = threading.Thread(target=lambda: got.extend(e.position for e in sub), daemon=True)
        t.start()
        w.append("s", [Event("e", 1)])
        deadline = time.monotonic() + 5
        while len(got) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        killed = _sql(pg_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%%' AND pid <> pg_backend_pid()")
        assert killed == [(True,)]
        for n in range(2, 6):
            w.append("s", [Event("e", n)])
        deadline = time.monotonic() + 10
        while len(got) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        sub.close()
        t.join(5)
        assert got == [1, 2, 3, 4, 5]


# -- ownership locks -----------------------------------------------------------------------------

HOLDER = """
import sys, time, journal
j = journal.open(sys.argv[1])
print("locked", j.try_lock("mob:team"), flush=True)
time.sleep(120)
"""


def test_ownership_lock_is_exclusive_names_its_owner_and_dies_with_its_process(pg_url):
    proc = spawn("-c", HOLDER, pg_url)
    lines = Lines(proc)
    try:
        assert lines.line() == "locked True"
        with journal.open(pg_url) as j:
            assert j.try_lock("mob:team") is False
            owner = j.lock_owner("mob:team")
            assert owner == journal.LockOwner(socket.gethostname(), proc.pid)
            assert str(proc.pid) in str(owner)
            assert j.lock_owner("mob:other") is None
            assert j.try_lock("mob:other") and j.holds_lock("mob:other")
            assert j.lock_owner("mob:other") == journal.LockOwner(socket.gethostname(), os.getpid())
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            t0 = time.monotonic()
            while not j.try_lock("mob:team"):  # the server ends the dead process's session
                assert time.monotonic() - t0 < 5, "the dead owner's lock was never released"
                time.sleep(0.02)
            assert j.lock_owner("mob:team").pid == os.getpid()
            assert j.try_lock("mob:team")  # taking a held lock again is a no-op...
            assert j.unlock("mob:team") is True  # ...and one unlock gives it up
            assert j.lock_owner("mob:team") is None
            assert j.unlock("mob:team") is False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_locks_are_per_journal_schema(pg_url, pg_server):
    other = pg_server.new_schema()  # another journal in the same database
    with journal.open(pg_url) as a, journal.open(other) as b:
        assert a.try_lock("k") and b.try_lock("k")  # the same key names different things
        a.close()
        with journal.open(pg_url) as a2:
            assert a2.try_lock("k")  # closing released it


def test_lmdb_journal_owns_every_lock(jdir):
    with journal.open(jdir) as j:
        assert j.lock_owner("k") is None
        assert j.try_lock("k") and j.try_lock("k")
        assert j.lock_owner("k") == journal.LockOwner(socket.gethostname(), os.getpid())
        assert j.unlock("k") and not j.unlock("k")
    with journal.open(jdir, readonly=True) as r, pytest.raises(journal.ReadOnlyJournal):
        r.try_lock("k")


# -- lost connections --------------------------------------------------------------------------


def test_a_lost_writer_connection_is_replaced_and_its_locks_are_gone(pg_url):
    with journal.open(pg_url) as j:
        j.append("s", [Event("e", 1)])
        assert j.try_lock("mine")
        writer_pid = j._writer.submit(SessionOp(lambda conn, held: conn.info.backend_pid))
        assert _sql(pg_url, "SELECT pg_terminate_backend(%s)", writer_pid) == [(True,)]
        time.sleep(0.1)
        # The next write finds the connection gone before it committed anything: safe to retry.
        assert j.append("s", [Event("e", 2)]).last_seq == 2
        assert j.connection_losses == 1
        assert not j.holds_lock("mine")  # the old session's lock ended with it
        assert j.lock_owner("mine") is None
        assert [e.data for e in j.read("s")] == [1, 2]
        # Reads replace their lost connections too.
        for pid, in _sql(pg_url, "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'mob-journal%%' AND pid <> pg_backend_pid()"):
            _sql(pg_url, "SELECT pg_terminate_backend(%s)", pid)
        time.sleep(0.1)
        assert j.head() == 2 and [e.data for e in j.read("s")] == [1, 2]


def test_commit_outcome_unknown_is_never_reported_as_success(pg_url):
    """The connection dies after COMMIT was sent: the caller gets CommitUnknown, not an ack."""
    with journal.open(pg_url) as j:
        j.append("s", [Event("e", 0)])
        writer = j._writer
        real = writer._chain.release

        def kill_then_release() -> None:  # runs just before the writer sends its COMMIT
            pid = writer._conn.info.backend_pid
            with psycopg.connect(j.url, autocommit=True) as c:
                c.execute("SELECT pg_terminate_backend(%s)", (pid,))
            time.sleep(0.05)
            real()

        writer._chain.release = kill_then_release
        with pytest.raises(journal.CommitUnknown, match="unknown") as exc:
            j.append("s", [Event("e", 1)])
        assert isinstance(exc.value, journal.JournalError)
        writer._chain.release = real
        assert j.append("s", [Event("e", 2)]).last_seq == 2  # it reconnected for the next write
        assert [e.data for e in j.read("s")] == [0, 2]


def test_a_stopped_server_fails_writes_clearly(pg_server, pg_url):
    """No server for longer than the retry window: the write fails with JournalUnavailable."""
    with journal.open(pg_url) as j:
        j.append("s", [Event("e", 1)])
        old = pg_writer.RETRY_SECONDS
        pg_writer.RETRY_SECONDS = 1.0
        pg_server.stop("immediate")
        try:
            with pytest.raises((journal.JournalUnavailable, journal.CommitUnknown)):
                j.append("s", [Event("e", 2)])
        finally:
            pg_writer.RETRY_SECONDS = old
            pg_server.start()
        assert j.append("s", [Event("e", 3)]).last_seq == 2
        assert [e.data for e in j.read("s")] == [1, 3]


def test_an_idle_owner_notices_its_lost_connection_within_seconds(pg_url):
    with journal.open(pg_url) as j:
        assert j.try_lock("mine") and j.holds_lock("mine")
        writer_pid = j._writer.submit(SessionOp(lambda conn, held: conn.info.backend_pid))
        _sql(pg_url, "SELECT pg_terminate_backend(%s)", writer_pid)
        t0 = time.monotonic()
        while j.holds_lock("mine"):  # no write comes: the writer's idle check finds out
            assert time.monotonic() - t0 < 5, "a lost connection went unnoticed while holding a lock"
            time.sleep(0.05)
        assert j.try_lock("mine")  # nobody else took it: this opener takes it again on a new connection
        assert j.lock_owner("mine").pid == os.getpid()


def test_remembered_rows_never_undo_another_openers_writes(pg_url):
    """The writer reuses the head and stream rows of its last commit while nobody else appends;
    another opener's appends (which move the head) and deletions (which do not) must both hold."""
    with journal.open(pg_url) as a, journal.open(pg_url) as b:
        a.append("s", [Event("e", n) for n in range(1, 4)])
        a.append("s", [Event("e", 4)])  # a now remembers s at seq 4
        b.delete_to("s", 2)  # the head does not move
        assert a.append("s", [Event("e", 5)], expected_seq=4).last_seq == 5
        assert list(b.streams()) == [journal.StreamInfo("s", 5, 2)]  # the deletion mark stays
        b.append("s", [Event("e", 6)])  # the head moves: a's remembered rows are stale now
        with pytest.raises(journal.WrongExpectedVersion) as exc:
            a.append("s", [Event("e", "stale")], expected_seq=5)
        assert exc.value.actual == 6
        assert a.append("s", [Event("e", 7)]).last_seq == 7
        assert [e.data for e in a.read("s")] == [3, 4, 5, 6, 7]
        assert a.verify().ok
