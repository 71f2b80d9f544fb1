"""Session-level performance of ``mob_actors``, each figure against a baseline measured in the same run.

    .venv/bin/python benchmarks/bench_sessions.py [--quick] [--runs N] [--seconds S] [--json]

1. durable turns: ``PersistentSessionService.apply_runtime_turn`` on a fresh journal
   (``durability="sync"``), 100 sessions, 100 client threads (one per session, so 100 turns
   in flight), an agent that answers at once with one assistant message; vs a naive design in
   the same run: one ``pykka.ThreadingActor`` per session that writes each turn in its own
   synced py-lmdb write transaction and replies, asked the same way. Target ours/naive >= 3x.
2. rebuild of a 10,000-event session (built with real turns through the service,
   ``checkpoint_every=50``): ``recover(use_snapshot=False)`` (full replay, every digest checked)
   and ``recover()`` (newest snapshot + the rest); vs ``eventsourcing`` 9.5 rebuilding a
   10,000-event aggregate from an SQLite file (``app.repository.get``, no snapshots).
   Target: ours >= 10x faster.
   An extra row (info, no target) runs the same load through a "floor" actor that only does a
   pykka ask and a journal append: what the hops alone cost on this machine at that moment.
3. memory: 10,000 sessions created (one turn each) with ``max_resident=1000``, measured in a
   fresh subprocess: VmRSS must stay under 300 MB; also reports the live ``SessionActor`` count.

Loads run interleaved (naive, ours, naive, ...) so drift in the machine's load hits both alike.
Figures are medians of ``--runs`` runs with [min-max]; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import lmdb
import msgpack
import pykka
from _util import Stat, fmt, parse_args, print_table, run_threads, tempdir

import journal
from mob_actors.core.events import session_stream
from mob_actors.core.ids import new_id
from mob_actors.core.model import CreateSessionRequest, RunApplyBoundary, StartTurnRequest, TurnOutcome
from mob_actors.core.recovery import recover
from mob_actors.sessions.service import PersistentSessionService

SESSIONS = 100
REBUILD_EVENTS = 10_000
# The actor snapshots at every 50th seq; stopping 25 events past one gives the snapshot path an
# average tail to replay (stopping at 10,000 exactly would leave it a tail of one event).
REBUILD_TAIL = 25
MEMORY_SESSIONS = 10_000
MAX_RESIDENT = 1000
RSS_LIMIT_MB = 300.0
TEXT = "x" * 110  # the ~200 B event of perf-baseline.md: a 110-character message


class TinyAgent:
    """Answers at once with one assistant message (no model)."""

    def run_turn(self, ctx):
        return TurnOutcome([{"role": "assistant", "content": TEXT}], TEXT)


# -- 1: durable turns -------------------------------------------------------------------------


class NaiveSession(pykka.ThreadingActor):
    """The naive design: an actor per session, one synced LMDB write transaction per turn."""

    use_daemon_thread = True

    def __init__(self, env: lmdb.Environment, index: int) -> None:
        super().__init__()
        self.env = env
        self.key = index.to_bytes(16, "big")
        self.seq = 0

    def on_receive(self, message: dict) -> int:
        self.seq += 1
        event = {"session_id": self.key, "seq": self.seq, "kind": "turn", "payload": message}
        with self.env.begin(write=True) as txn:  # sync=True (the default): fsync per commit
            txn.put(self.key + self.seq.to_bytes(8, "big"), msgpack.packb(event))
        return self.seq


def _ask_turns(refs: list[pykka.ActorRef], seconds: float) -> float:
    """Turns/s with one client thread per actor, each asking its actor one turn after another."""
    agent = TinyAgent()

    def setup(i: int):
        ref = refs[i]
        counter = iter(range(10**12))

        def op() -> None:
            ref.ask({"user": f"turn {next(counter)}", "messages": agent.run_turn(None).messages})

        return op

    return run_threads(len(refs), seconds, setup)


def naive_turns(seconds: float) -> tuple[float, float]:
    """Turns/s (= events/s) of the naive design with SESSIONS clients, one per session."""
    with tempdir("bench-naive-") as path:
        env = lmdb.open(path, map_size=1 << 30)
        refs = [NaiveSession.start(env, i) for i in range(SESSIONS)]
        try:
            rate = _ask_turns(refs, seconds)
            with env.begin() as txn:
                stored = txn.stat()["entries"]
            assert stored > 0
            return rate, rate
        finally:
            for ref in refs:
                ref.stop()
            env.close()


class FloorSession(pykka.ThreadingActor):
    """Not a design, a measuring stick: the two hops every durable turn of ours takes (a pykka ask,
    a journal append that waits for its group commit), with no session logic at all."""

    use_daemon_thread = True

    def __init__(self, j: journal.Journal, index: int) -> None:
        super().__init__()
        self.j = j
        self.stream = f"floor-{index}"
        self.seq = 0

    def on_receive(self, message: dict) -> int:
        self.j.append(self.stream, [journal.Event("turn", message)], expected_seq=self.seq)
        self.seq += 1
        return self.seq


def floor_turns(seconds: float) -> float:
    """Turns/s of FloorSession: the ceiling of ask + journal.append on this machine right now."""
    with tempdir("bench-floor-") as path, journal.open(path, durability="sync") as j:
        refs = [FloorSession.start(j, i) for i in range(SESSIONS)]
        try:
            return _ask_turns(refs, seconds)
        finally:
            for ref in refs:
                ref.stop()


def our_turns(seconds: float) -> tuple[float, float, float]:
    """(turns/s, events/s, events per commit) of PersistentSessionService on a fresh synced journal."""
    with tempdir("bench-sessions-") as path:
        j = journal.open(path, durability="sync")
        svc = PersistentSessionService(j, TinyAgent(), checkpoint_every=50, max_resident=1000)
        try:
            ids = [svc.create_session(CreateSessionRequest()).id for _ in range(SESSIONS)]
            counts = [0] * SESSIONS

            def setup(i: int):
                sid = ids[i]
                counter = iter(range(10**12))

                def op() -> None:
                    n = next(counter)
                    svc.apply_runtime_turn(sid, new_id(), StartTurnRequest(f"turn {n}"), RunApplyBoundary.IMMEDIATE, [])
                    counts[i] = n + 1

                return op

            head0, commits0 = j.head(), j.commits
            rate = run_threads(SESSIONS, seconds, setup)
            turns = sum(counts)
            time.sleep(0.05)  # let the last checkpoints (told after the reply) land
            events = j.head() - head0
            return rate, rate * events / turns, events / max(1, j.commits - commits0)
        finally:
            svc.shutdown()
            j.close()


# -- 2: rebuild ---------------------------------------------------------------------------------


def build_session(path: str) -> tuple[str, int, float]:
    """A session of REBUILD_EVENTS + REBUILD_TAIL events made by real turns (nosync journal); (id, events, seconds)."""
    t0 = time.perf_counter()
    with journal.open(path, durability="nosync") as j:
        svc = PersistentSessionService(j, TinyAgent(), checkpoint_every=50, max_resident=1000)
        try:
            sid = svc.create_session(CreateSessionRequest()).id
            stream = session_stream(sid)
            n = 0
            # Each turn is one event; after every 50 the actor writes a snapshot and a checkpointed
            # event on its own (asynchronously), exactly as in production.
            while j.highest_seq(stream) < REBUILD_EVENTS + REBUILD_TAIL:
                svc.apply_runtime_turn(sid, new_id(), StartTurnRequest(f"turn {n}"), RunApplyBoundary.IMMEDIATE, [])
                n += 1
        finally:
            svc.shutdown()  # a checkpoint already queued is written before the actor stops
        events = j.highest_seq(stream)
    return sid, events, time.perf_counter() - t0


_Chat = None


def _chat_class() -> type:
    """An eventsourcing aggregate with one event method (built once: classes register by topic)."""
    global _Chat
    if _Chat is None:
        from eventsourcing.domain import Aggregate, event

        class Chat(Aggregate):
            def __init__(self) -> None:
                self.turns = 0
                self.last = None

            @event("Turned")
            def turn(self, role: str, text: str, ts: float, n: int) -> None:
                self.turns += 1
                self.last = text

        _Chat = Chat
    return _Chat


def build_eventsourcing(path: str, events: int):
    from eventsourcing.application import Application

    app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": os.path.join(path, "es.sqlite3")})
    chat = _chat_class()()  # the creation event is event 1
    for n in range(1, events):
        chat.turn("assistant", TEXT, 1.7e9 + n, n)
        if n % 100 == 0:
            app.save(chat)
    app.save(chat)
    assert chat.version == events, chat.version
    return app, chat.id


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


# -- 3: memory (in a fresh subprocess) -----------------------------------------------------------


def rss_kb() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def memory_child(sessions: int) -> None:
    """Create ``sessions`` sessions with one turn each (max_resident=1000); print a JSON report."""
    from mob_actors.sessions.actor import SessionActor

    gc.collect()
    before = rss_kb()["VmRSS"]
    with tempdir("bench-memory-") as path:
        # nosync: the figure is memory, not disk; 10k sessions x 2 fsyncs would only add time.
        j = journal.open(path, durability="nosync")
        svc = PersistentSessionService(j, TinyAgent(), checkpoint_every=50, max_resident=MAX_RESIDENT)
        t0 = time.perf_counter()
        errors: list[BaseException] = []

        def worker(k: int) -> None:
            try:
                for _ in range(k, sessions, 4):
                    svc.create_session(CreateSessionRequest(initial_prompt="hello"))
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        elapsed = time.perf_counter() - t0
        deadline = time.monotonic() + 30  # passivated actors stop asynchronously
        while len(pykka.ActorRegistry.get_by_class(SessionActor)) > MAX_RESIDENT and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        gc.collect()
        mem = rss_kb()
        report = {
            "sessions": len(list(svc._store.session_ids())),
            "live_actors": len(pykka.ActorRegistry.get_by_class(SessionActor)),
            "threads": threading.active_count(),
            "rss_mb": mem["VmRSS"] / 1024,
            "peak_rss_mb": mem["VmHWM"] / 1024,
            "baseline_rss_mb": before / 1024,
            "create_seconds": elapsed,
        }
        svc.shutdown()
        j.close()
    print(json.dumps(report))


def measure_memory(sessions: int) -> dict:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--memory-child", str(sessions)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- report ---------------------------------------------------------------------------------------


def stat_str(s: Stat, scale: float = 1.0, unit: str = "") -> str:
    vals = [v * scale for v in s.values]
    med = s.median * scale
    return f"{fmt(med) if med >= 100 else f'{med:.1f}'} [{fmt(min(vals)) if min(vals) >= 100 else f'{min(vals):.1f}'}\u2013{fmt(max(vals)) if max(vals) >= 100 else f'{max(vals):.1f}'}] {unit}".rstrip()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        memory_child(int(sys.argv[2]))
        return
    args = parse_args(__doc__.splitlines()[0])
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    t_start = time.perf_counter()
    rows: list[dict] = []
    notes: list[str] = []

    # 1 ------------------------------------------------------------------------------------------
    naive, ours, ours_ev, per_commit, floor = Stat(), Stat(), Stat(), Stat(), Stat()
    for run in range(args.runs):
        naive.add(naive_turns(args.seconds)[0])
        rate, ev_rate, batch = our_turns(args.seconds)
        ours.add(rate)
        ours_ev.add(ev_rate)
        per_commit.add(batch)
        floor.add(floor_turns(args.seconds))
        log(f"  turns run {run + 1}/{args.runs}: naive {naive.values[-1]:,.0f}  ours {rate:,.0f} turns/s "
            f"({ev_rate:,.0f} ev/s, {batch:.0f} ev/commit)  floor {floor.values[-1]:,.0f}")
    rows.append(dict(name=f"1 durable turns, {SESSIONS} sessions, {SESSIONS} in flight", unit="turns/s",
                     baseline="naive: actor + 1 synced txn/turn", raw=naive, ours=ours, better="higher", target=3.0))
    rows.append(dict(name="1 same, events/s (turns + checkpoints)", unit="ev/s",
                     baseline="naive (1 event per turn)", raw=naive, ours=ours_ev, better="higher", target=3.0))
    rows.append(dict(name="1 floor: pykka ask + journal.append, no session logic", unit="turns/s",
                     baseline="naive: actor + 1 synced txn/turn", raw=naive, ours=floor, better="higher", target=None))
    notes.append(f"1: ours commits {per_commit.median:.0f} events per fsync (median); {args.runs} runs x {args.seconds:g} s each; "
                 f"ours reaches {ours.median / floor.median:.0%} of the floor (the hops alone)")

    # 2 ------------------------------------------------------------------------------------------
    es_t, full_t, snap_t, read_t = Stat(), Stat(), Stat(), Stat()
    with tempdir("bench-rebuild-") as path, tempdir("bench-rebuild-es-") as es_path:
        sid, events, build_s = build_session(path)
        log(f"  built a {events}-event session through the service in {build_s:.1f} s")
        app, agg_id = build_eventsourcing(es_path, events)
        try:
            with journal.open(path) as j:
                for run in range(args.runs):
                    dt, agg = timed(app.repository.get, agg_id)
                    assert agg.version == events
                    es_t.add(dt)
                    dt, state = timed(recover, j, sid, use_snapshot=False)
                    assert state is not None and state.seq == events
                    full_t.add(dt)
                    dt, state2 = timed(recover, j, sid)
                    assert state2 is not None and state2.seq == events and len(state2.messages) == len(state.messages)
                    snap_t.add(dt)
                    dt, _ = timed(lambda: sum(1 for _ in j.read(session_stream(sid))))
                    read_t.add(dt)
                    log(f"  rebuild run {run + 1}/{args.runs}: eventsourcing {es_t.values[-1] * 1e3:.0f} ms  "
                        f"full replay {full_t.values[-1] * 1e3:.1f} ms  snapshot {snap_t.values[-1] * 1e3:.1f} ms")
                snap = j.load_snapshot(session_stream(sid))
                notes.append(f"2: session of {events} events ({len(state.messages)} messages), newest snapshot at seq "
                             f"{snap.seq if snap else None} ({events - snap.seq if snap else events} events replayed after it); built through the service in {build_s:.1f} s; "
                             f"journal read+decode alone (no evolve, no digests) {read_t.median * 1e3:.0f} ms of the full replay's "
                             f"{full_t.median * 1e3:.0f} ms")
        finally:
            app.close()
    rows.append(dict(name=f"2 rebuild {events // 1000}k-event session, full replay", unit="ms",
                     baseline="eventsourcing+SQLite get()", raw=es_t, ours=full_t, better="lower", target=10.0, scale=1e3))
    rows.append(dict(name=f"2 rebuild {events // 1000}k-event session, snapshot+tail", unit="ms",
                     baseline="eventsourcing+SQLite get()", raw=es_t, ours=snap_t, better="lower", target=10.0, scale=1e3))

    # 3 ------------------------------------------------------------------------------------------
    mem = measure_memory(MEMORY_SESSIONS)
    log(f"  memory: {mem}")
    rss = Stat([mem["rss_mb"]])
    limit = Stat([RSS_LIMIT_MB])
    rows.append(dict(name=f"3 RSS, {mem['sessions']} sessions, max_resident={MAX_RESIDENT}", unit="MB",
                     baseline="limit", raw=limit, ours=rss, better="lower", target=1.0))
    notes.append(f"3: {mem['live_actors']} live SessionActor actors, {mem['threads']} threads; RSS {mem['rss_mb']:.0f} MB "
                 f"(peak {mem['peak_rss_mb']:.0f} MB, {mem['baseline_rss_mb']:.0f} MB after imports); "
                 f"created in {mem['create_seconds']:.1f} s by 4 threads on a nosync journal")
    notes.append(f"total {time.perf_counter() - t_start:.0f} s; loadavg at end {os.getloadavg()[0]:.2f}")

    for r in rows:  # ratio > 1 means ours is better, whichever direction the unit goes
        r["ratio"] = r["ours"].median / r["raw"].median if r["better"] == "higher" else r["raw"].median / r["ours"].median
        r["ok"] = None if r["target"] is None else r["ratio"] >= r["target"]
    if args.json:
        print(json.dumps({
            "benchmark": "mob_actors sessions",
            "results": [{"name": r["name"], "unit": r["unit"], "baseline": r["baseline"],
                         "raw": [v * r.get("scale", 1.0) for v in r["raw"].values],
                         "ours": [v * r.get("scale", 1.0) for v in r["ours"].values],
                         "raw_median": r["raw"].median * r.get("scale", 1.0), "ours_median": r["ours"].median * r.get("scale", 1.0),
                         "better": r["better"], "ratio": r["ratio"], "target": r["target"], "ok": r["ok"]} for r in rows],
            "memory": mem,
            "notes": notes,
        }))
        return
    header = ("benchmark", "baseline", "baseline: median [min\u2013max]", "ours: median [min\u2013max]", "ratio", "target")
    lines = []
    for r in rows:
        scale = r.get("scale", 1.0)
        lines.append((r["name"], r["baseline"], stat_str(r["raw"], scale, r["unit"]), stat_str(r["ours"], scale, r["unit"]),
                      f"{r['ratio']:.2f}x", "(info)" if r["target"] is None else f">= {r['target']:g}x {'ok' if r['ok'] else 'MISSED'}"))
    print_table("mob_actors sessions (ratio > 1: ours better; turns/s ours/naive, times baseline/ours, RSS limit/ours)",
                header, lines, notes)


if __name__ == "__main__":
    main()
