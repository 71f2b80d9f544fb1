"""What a long session costs: CPU per turn as it grows, bytes on disk per conversation byte, rebuild time.

    .venv/bin/python benchmarks/bench_long_sessions.py [--quick] [--turns N] [--json]

One session under the default settings (``PersistentSessionService(path, agent)``), driven by one
client thread; every turn is a 500-byte prompt and a 2,000-byte reply (2,500 conversation bytes):

1. CPU per turn (``time.process_time``: every thread of the process, so the session actor, the
   journal writer and the checkpoints they do count too), as the mean over 200 turns around turn
   200 and around turn 4,000. Target: turn 4,000 within 1.25x of turn 200.
2. the journal directory's bytes on disk (allocated blocks) per conversation byte at 1,000, 4,000
   and 10,000 turns. Targets: at most 3x at 4,000 turns, and not growing from 1,000 to 10,000
   (the 10,000 figure within 1.1x of the 1,000 one).
3. rebuilding the session in a fresh process after the last turn: the service is shut down, a
   new process opens the journal and reads the session (newest snapshot plus the tail, every
   digest checked): the time from opening to the state in hand, and that process's whole wall
   time (interpreter start and imports included).

``--turns`` (default 10,000; ``--quick`` 4,100) is the session's final length.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _util import tempdir

from mob_actors.core.model import CreateSessionRequest, StartTurnRequest, TurnContext, TurnOutcome
from mob_actors.sessions.service import PersistentSessionService

PROMPT_BYTES = 500
REPLY_BYTES = 2000
WINDOW = 200  # turns per CPU window
EARLY, LATE = 200, 4000  # window centres
SIZE_AT = (1000, 4000, 10_000)
CPU_TARGET = 1.25
BYTES_TARGET = 3.0
GROWTH_TARGET = 1.1


class LongAgent:
    """Replies with 2,000 bytes at once (no model)."""

    def run_turn(self, ctx: TurnContext) -> TurnOutcome:
        text = (ctx.request.prompt[:6] + "r" * REPLY_BYTES)[:REPLY_BYTES]
        return TurnOutcome([{"role": "assistant", "content": text}], text)


def prompt(k: int) -> str:
    return (f"{k:06d}" + "p" * PROMPT_BYTES)[:PROMPT_BYTES]


def dir_bytes(path: str) -> int:
    """Bytes allocated on disk under ``path`` (what ``du`` counts)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.stat(os.path.join(root, name)).st_blocks * 512
    return total


_REBUILD = """
import sys, time, json
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from mob_actors.sessions.service import PersistentSessionService
sys.path.insert(0, {bench!r})
from bench_long_sessions import LongAgent
t1 = time.perf_counter()
svc = PersistentSessionService({path!r}, LongAgent())
s = svc.read({sid!r})
t2 = time.perf_counter()
assert len(s.messages) == {messages}, len(s.messages)
svc.shutdown()
print(json.dumps({{"rebuild_s": t2 - t1, "imports_s": t1 - t0}}))
"""


def rebuild(path: str, sid: str, messages: int) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    code = _REBUILD.format(root=os.path.dirname(here), bench=here, path=path, sid=sid, messages=messages)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    result = json.loads(out.strip().splitlines()[-1])
    result["process_s"] = wall
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="stop at 4,100 turns")
    p.add_argument("--turns", type=int, default=None, help="final session length (default 10,000)")
    p.add_argument("--runs", type=int, default=None, help="ignored (one long session is the measurement)")
    p.add_argument("--seconds", type=float, default=None, help="ignored")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    total = args.turns or (LATE + WINDOW // 2 if args.quick else SIZE_AT[-1])
    windows = {c: (c - WINDOW // 2, c + WINDOW // 2) for c in (EARLY, LATE) if c + WINDOW // 2 <= total}
    cpu: dict[int, float] = {}
    sizes: dict[int, float] = {}
    rebuilds: dict[int, dict] = {}
    conversation = 0
    with tempdir("bench-long-") as path:
        agent = LongAgent()
        svc = PersistentSessionService(path, agent)
        sid = svc.create_session(CreateSessionRequest()).id
        marks = {start: c for c, (start, _) in windows.items()}
        ends = {end: c for c, (_, end) in windows.items()}
        started: dict[int, float] = {}
        t_all = time.perf_counter()
        for k in range(1, total + 1):
            if k in marks:
                started[marks[k]] = time.process_time()
            text = prompt(k)
            svc.start_turn(sid, StartTurnRequest(text))
            conversation += PROMPT_BYTES + REPLY_BYTES
            if k in ends:
                c = ends[k]
                cpu[c] = (time.process_time() - started[c]) / (k - windows[c][0] + 1) * 1000
            if k in SIZE_AT or k == total:
                sizes[k] = dir_bytes(path) / conversation
        svc.shutdown()
        rebuilds[total] = rebuild(path, sid, 2 * total)
        elapsed = time.perf_counter() - t_all
        final_bytes = dir_bytes(path)
    cpu_ratio = cpu[LATE] / cpu[EARLY] if LATE in cpu and EARLY in cpu else None
    size_keys = sorted(sizes)
    at4k = sizes.get(LATE)
    growth = sizes[size_keys[-1]] / sizes[size_keys[0]] if len(size_keys) > 1 else None
    if args.json:
        print(json.dumps({
            "benchmark": "bench_long_sessions", "turns": total, "cpu_ms_per_turn": cpu, "cpu_ratio": cpu_ratio,
            "bytes_per_conversation_byte": sizes, "growth": growth, "rebuild": rebuilds,
            "final_dir_bytes": final_bytes, "elapsed_s": elapsed,
        }))
        return
    print(f"\nbench_long_sessions: one session, {total:,} turns of {PROMPT_BYTES} B prompt + {REPLY_BYTES} B reply, "
          f"default settings ({elapsed:.0f} s)")
    for c in sorted(cpu):
        print(f"  CPU per turn around turn {c:>6,}: {cpu[c]:.3f} ms (mean of {WINDOW} turns, all threads)")
    if cpu_ratio is not None:
        print(f"  turn {LATE:,} / turn {EARLY:,}: {cpu_ratio:.2f}x  (target <= {CPU_TARGET:g}x: {'ok' if cpu_ratio <= CPU_TARGET else 'MISSED'})")
    for k in size_keys:
        print(f"  journal bytes on disk per conversation byte at {k:>6,} turns: {sizes[k]:.2f}x")
    if at4k is not None:
        print(f"  at {LATE:,} turns: {at4k:.2f}x  (target <= {BYTES_TARGET:g}x: {'ok' if at4k <= BYTES_TARGET else 'MISSED'})")
    if growth is not None:
        print(f"  growth {size_keys[0]:,} -> {size_keys[-1]:,} turns: {growth:.2f}x  "
              f"(target <= {GROWTH_TARGET:g}x: {'ok' if growth <= GROWTH_TARGET else 'MISSED'})")
    for k, r in sorted(rebuilds.items()):
        print(f"  rebuild after {k:>6,} turns in a fresh process: {r['rebuild_s'] * 1000:.0f} ms "
              f"(process wall time {r['process_s']:.2f} s, imports {r['imports_s']:.2f} s)")
    print(f"  journal directory at the end: {final_bytes / 1e6:.1f} MB for {conversation / 1e6:.1f} MB of conversation")


if __name__ == "__main__":
    main()
