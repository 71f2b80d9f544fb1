"""Durable turns and history loads of ``mob_actors`` against the session stores a host would use instead.

    .venv/bin/python benchmarks/bench_peers.py [--quick] [--runs N] [--seconds S] [--json]

1. durable turns/s: 64 sessions, 16 client threads each owning 4, every thread takes one turn on
   each of its sessions in turn (round robin, blocking) for ``--seconds`` (default 5):
   * ours: ``PersistentSessionService(path, EchoAgent()).start_turn`` (group-committed LMDB,
     every turn fsynced before it returns);
   * OpenAI Agents SDK: ``SQLiteSession.add_items([user, assistant])`` on one SQLite file, each
     client thread running its own asyncio loop (the SDK's API is async);
   * LangGraph: ``StateGraph(MessagesState)`` with one echo node, compiled with a ``SqliteSaver``
     on one connection, ``graph.invoke({"messages": [user]}, thread_id=session)``.
   Both peers run SQLite in WAL mode with ``synchronous=FULL`` (Python's default, printed below):
   every commit is fsynced, as every one of our turns is.
2. load a 1,000-turn history from a freshly opened store (the store opened, then the load
   timed): ours ``read_history`` on a new service (the session is not live: newest snapshot plus
   the tail, every digest checked), the SDK's ``get_items()`` on a new ``SQLiteSession``,
   LangGraph's ``get_state(config).values["messages"]`` on a new saver.

Rounds are interleaved (ours, SDK, LangGraph, ours, ...) so drift in the machine's load hits all
alike; figures are medians of ``--runs`` rounds (default 3) with [min-max]. Ratios are ours
over the best peer; targets: turns >= 2.5x, history load >= 3x faster.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _util import Stat, fmt, parse_args, run_threads_counted, tempdir

from mob_actors.core.model import CreateSessionRequest, StartTurnRequest
from mob_actors.sessions.service import PersistentSessionService
from mob_actors.testing import EchoAgent

SESSIONS = 64
CLIENTS = 16
HISTORY_TURNS = 1000
LOADS_PER_ROUND = 5  # loads timed per round (fresh store each); the round's figure is their median
PROMPT = "Summarise the design notes in two sentences, please."  # ~50 B, as a chat prompt
TURN_TARGET = 2.5
LOAD_TARGET = 3.0


def _round_robin(n_clients: int, ids: list[str], turn: Any) -> Any:
    """The setup for run_threads_counted: client i cycles over its share of ``ids``."""
    per = len(ids) // n_clients

    def setup(i: int) -> Any:
        mine = ids[i * per:(i + 1) * per]
        state = {"k": 0}

        def op() -> None:
            k = state["k"]
            state["k"] = k + 1
            turn(mine[k % per], k)

        return op

    return setup


# -- ours ------------------------------------------------------------------------------------------


def ours_turns(seconds: float) -> tuple[float, dict]:
    with tempdir("bench-peers-ours-") as path:
        svc = PersistentSessionService(path, EchoAgent())
        try:
            ids = [svc.create_session(CreateSessionRequest()).id for _ in range(SESSIONS)]
            commits0 = svc.journal.commits
            done, elapsed = run_threads_counted(
                CLIENTS, seconds, _round_robin(CLIENTS, ids, lambda sid, k: svc.start_turn(sid, StartTurnRequest(f"{PROMPT} #{k}")))
            )
            commits = svc.journal.commits - commits0
            stored = sum(len(svc.read(sid).messages) for sid in ids) // 2
        finally:
            svc.shutdown()
        if stored != done:
            raise RuntimeError(f"ours: {done} turns acknowledged but {stored} stored")
        return done / elapsed, {"turns_per_commit": done / max(commits, 1)}


def ours_build_history(path: str) -> str:
    svc = PersistentSessionService(path, EchoAgent())
    try:
        sid = svc.create_session(CreateSessionRequest()).id
        for k in range(HISTORY_TURNS):
            svc.start_turn(sid, StartTurnRequest(f"{PROMPT} #{k}"))
        return sid
    finally:
        svc.shutdown()


def ours_load(path: str, sid: str) -> float:
    svc = PersistentSessionService(path, EchoAgent())
    try:
        t0 = time.perf_counter()
        page = svc.read_history(sid)
        dt = time.perf_counter() - t0
    finally:
        svc.shutdown()
    assert page.message_count == 2 * HISTORY_TURNS, page.message_count
    return dt


# -- OpenAI Agents SDK -----------------------------------------------------------------------------


def _sdk_items(k: int) -> list[dict]:
    text = f"{PROMPT} #{k}"
    return [{"role": "user", "content": text}, {"role": "assistant", "content": f"echo: {text}"}]


def sdk_turns(seconds: float) -> tuple[float, dict]:
    from agents.memory import SQLiteSession

    with tempdir("bench-peers-sdk-") as path:
        db = os.path.join(path, "sessions.db")
        sessions = {f"s{i}": SQLiteSession(f"s{i}", db) for i in range(SESSIONS)}
        loops: list[asyncio.AbstractEventLoop] = []

        def setup(i: int) -> Any:
            loop = asyncio.new_event_loop()
            loops.append(loop)
            inner = _round_robin(CLIENTS, list(sessions), lambda sid, k: loop.run_until_complete(sessions[sid].add_items(_sdk_items(k))))
            return inner(i)

        try:
            done, elapsed = run_threads_counted(CLIENTS, seconds, setup)
            with sqlite3.connect(db) as conn:
                stored = conn.execute("SELECT count(*) FROM agent_messages").fetchone()[0] // 2
                sync = conn.execute("PRAGMA synchronous").fetchone()[0]
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            for loop in loops:
                loop.close()
            for s in sessions.values():
                s.close()
        if stored != done:
            raise RuntimeError(f"sdk: {done} turns acknowledged but {stored} stored")
        return done / elapsed, {"sqlite": f"journal_mode={mode} synchronous={sync}"}


def sdk_build_history(path: str) -> str:
    from agents.memory import SQLiteSession

    s = SQLiteSession("history", os.path.join(path, "sessions.db"))
    try:
        for k in range(HISTORY_TURNS):
            asyncio.run(s.add_items(_sdk_items(k)))
    finally:
        s.close()
    return "history"


def sdk_load(path: str, sid: str) -> float:
    from agents.memory import SQLiteSession

    s = SQLiteSession(sid, os.path.join(path, "sessions.db"))
    try:
        loop = asyncio.new_event_loop()
        try:
            t0 = time.perf_counter()
            items = loop.run_until_complete(s.get_items())
            dt = time.perf_counter() - t0
        finally:
            loop.close()
    finally:
        s.close()
    assert len(items) == 2 * HISTORY_TURNS, len(items)
    return dt


# -- LangGraph -------------------------------------------------------------------------------------


def _graph(conn: sqlite3.Connection) -> Any:
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, MessagesState, StateGraph

    def echo(state: MessagesState) -> dict:
        return {"messages": [AIMessage(content=f"echo: {state['messages'][-1].content}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("echo", echo)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder.compile(checkpointer=SqliteSaver(conn))


def _lg_config(sid: str) -> dict:
    return {"configurable": {"thread_id": sid}}


def lg_turns(seconds: float) -> tuple[float, dict]:
    from langchain_core.messages import HumanMessage

    with tempdir("bench-peers-lg-") as path:
        conn = sqlite3.connect(os.path.join(path, "graph.db"), check_same_thread=False)
        try:
            graph = _graph(conn)
            ids = [f"s{i}" for i in range(SESSIONS)]
            done, elapsed = run_threads_counted(
                CLIENTS, seconds,
                _round_robin(CLIENTS, ids, lambda sid, k: graph.invoke({"messages": [HumanMessage(content=f"{PROMPT} #{k}")]}, _lg_config(sid))),
            )
            stored = sum(len(graph.get_state(_lg_config(sid)).values.get("messages", [])) for sid in ids) // 2
            sync = conn.execute("PRAGMA synchronous").fetchone()[0]
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()
        if stored != done:
            raise RuntimeError(f"langgraph: {done} turns acknowledged but {stored} stored")
        return done / elapsed, {"sqlite": f"journal_mode={mode} synchronous={sync}"}


def lg_build_history(path: str) -> str:
    from langchain_core.messages import HumanMessage

    conn = sqlite3.connect(os.path.join(path, "graph.db"), check_same_thread=False)
    try:
        graph = _graph(conn)
        for k in range(HISTORY_TURNS):
            graph.invoke({"messages": [HumanMessage(content=f"{PROMPT} #{k}")]}, _lg_config("history"))
    finally:
        conn.close()
    return "history"


def lg_load(path: str, sid: str) -> float:
    conn = sqlite3.connect(os.path.join(path, "graph.db"), check_same_thread=False)
    try:
        graph = _graph(conn)
        t0 = time.perf_counter()
        messages = graph.get_state(_lg_config(sid)).values["messages"]
        dt = time.perf_counter() - t0
    finally:
        conn.close()
    assert len(messages) == 2 * HISTORY_TURNS, len(messages)
    return dt


# -- the run ---------------------------------------------------------------------------------------

PEERS = {
    "mob-actors start_turn (EchoAgent)": (ours_turns, ours_build_history, ours_load),
    "OpenAI Agents SDK SQLiteSession.add_items": (sdk_turns, sdk_build_history, sdk_load),
    "LangGraph StateGraph + SqliteSaver invoke": (lg_turns, lg_build_history, lg_load),
}
OURS = next(iter(PEERS))


def main() -> None:
    args = parse_args(__doc__.split("\n")[0])
    runs = 2 if args.quick else 3
    runs = args.runs if "--runs" in sys.argv else runs
    seconds = args.seconds if "--seconds" in sys.argv else (1.0 if args.quick else 5.0)
    turns = {name: Stat() for name in PEERS}
    loads = {name: Stat() for name in PEERS}
    notes: dict[str, dict] = {name: {} for name in PEERS}
    with tempdir("bench-peers-history-") as root:
        histories = {}
        for name, (_, build, _) in PEERS.items():
            path = os.path.join(root, str(len(histories)))
            os.makedirs(path)
            histories[name] = (path, build(path))
        for _ in range(runs):
            for name, (run, _, load) in PEERS.items():
                rate, extra = run(seconds)
                turns[name].add(rate)
                notes[name].update(extra)
                path, sid = histories[name]
                loads[name].add(statistics.median(load(path, sid) for _ in range(LOADS_PER_ROUND)) * 1000)
    peers = [n for n in PEERS if n != OURS]
    best_turns = max(peers, key=lambda n: turns[n].median)
    best_load = min(peers, key=lambda n: loads[n].median)
    turn_ratio = turns[OURS].median / turns[best_turns].median
    load_ratio = loads[best_load].median / loads[OURS].median
    if args.json:
        print(json.dumps({
            "benchmark": "bench_peers",
            "turns_per_s": {n: s.values for n, s in turns.items()},
            "load_1000_turns_ms": {n: s.values for n, s in loads.items()},
            "notes": notes,
            "turn_ratio_vs_best_peer": turn_ratio, "turn_target": TURN_TARGET,
            "load_speedup_vs_best_peer": load_ratio, "load_target": LOAD_TARGET,
        }))
        return
    print(f"\nbench_peers: {SESSIONS} sessions, {CLIENTS} clients x {SESSIONS // CLIENTS} sessions round robin, "
          f"{seconds:g} s per load, medians of {runs} interleaved rounds [min-max]")
    width = max(len(n) for n in PEERS)
    print(f"{'':{width}}  {'durable turns/s':>26}  {'load 1,000-turn history':>28}  notes")
    for name in PEERS:
        lo, hi = min(loads[name].values), max(loads[name].values)
        load_txt = f"{loads[name].median:.1f} [{lo:.1f}\u2013{hi:.1f}] ms"
        extra = " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in notes[name].items())
        print(f"{name:{width}}  {turns[name]!s:>26}  {load_txt:>28}  {extra}")
    ok = "ok" if turn_ratio >= TURN_TARGET else "MISSED"
    print(f"turns: ours / best peer ({best_turns}) = {turn_ratio:.2f}x  (target >= {TURN_TARGET:g}x: {ok}); "
          f"ours {fmt(turns[OURS].median)}/s")
    ok = "ok" if load_ratio >= LOAD_TARGET else "MISSED"
    print(f"history load: best peer ({best_load}) / ours = {load_ratio:.2f}x faster  (target >= {LOAD_TARGET:g}x: {ok})")


if __name__ == "__main__":
    main()
