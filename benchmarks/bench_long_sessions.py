"""What a long session costs: CPU per turn as it grows, bytes on disk per conversation byte, rebuild time.

    .venv/bin/python benchmarks/bench_long_sessions.py [--quick] [--turns N] [--json]

One session under the default settings (``PersistentSessionService(path, agent)``), driven by one
client thread; every turn is a 500-byte prompt and a 2,000-byte reply (2,500 conversation bytes):

1. CPU per turn (``time.process_time``: every thread of the process, so the session actor, the
   journal writer and the checkpoints they do count too) around turn 200 and around turn 4,000:
   a second session is run to turn 100 when the long one reaches turn 3,900, then blocks of 25
   turns alternate between them (turns 100-300 and 3,900-4,100); the median block of each.
   Target: turn 4,000 within 1.25x of turn 200.
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
import resource
import statistics
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
BLOCK = 25  # turns per measured block; blocks of the two sessions alternate
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
    total = max(args.turns or (LATE + WINDOW // 2 if args.quick else SIZE_AT[-1]), LATE + WINDOW // 2)
    blocks: dict[int, list[float]] = {EARLY: [], LATE: []}
    kernel: dict[int, list[float]] = {EARLY: [], LATE: []}  # the system-time part of each block
    sizes: dict[int, float] = {}
    rebuilds: dict[int, dict] = {}
    conversation = [0]
    with tempdir("bench-long-") as path:
        svc = PersistentSessionService(path, LongAgent())
        long_id = svc.create_session(CreateSessionRequest()).id
        short_id = svc.create_session(CreateSessionRequest()).id
        turns = {long_id: 0, short_id: 0}

        def turn(sid: str) -> None:
            turns[sid] += 1
            svc.start_turn(sid, StartTurnRequest(prompt(turns[sid])))
            conversation[0] += PROMPT_BYTES + REPLY_BYTES
            if sid == long_id and (turns[sid] in SIZE_AT or turns[sid] == total):
                sizes[turns[sid]] = dir_bytes(path) / conversation[0]

        t_all = time.perf_counter()
        while turns[long_id] < LATE - WINDOW // 2:
            turn(long_id)
        while turns[short_id] < EARLY - WINDOW // 2:
            turn(short_id)
        # Blocks of turns on the short and the long session alternate, so drift in the machine's
        # load hits both alike; each block holds a checkpoint's worth of work on average.
        for _ in range(WINDOW // BLOCK):
            for centre, sid in ((EARLY, short_id), (LATE, long_id)):
                t0, ru0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
                for _ in range(BLOCK):
                    turn(sid)
                blocks[centre].append((time.process_time() - t0) / BLOCK * 1000)
                ru1 = resource.getrusage(resource.RUSAGE_SELF)
                kernel[centre].append((ru1.ru_stime - ru0.ru_stime) / BLOCK * 1000)
        while turns[long_id] < total:
            turn(long_id)
        svc.shutdown()
        rebuilds[total] = rebuild(path, long_id, 2 * total)
        elapsed = time.perf_counter() - t_all
        final_bytes = dir_bytes(path)
    conversation_bytes = conversation[0]
    cpu = {c: statistics.median(v) for c, v in blocks.items()}
    cpu_ratio = cpu[LATE] / cpu[EARLY]
    size_keys = sorted(sizes)
    at4k = sizes.get(LATE)
    growth = sizes[size_keys[-1]] / sizes[size_keys[0]] if len(size_keys) > 1 else None
    if args.json:
        print(json.dumps({
            "benchmark": "bench_long_sessions", "turns": total, "cpu_ms_per_turn": cpu, "cpu_blocks": blocks, "kernel_blocks": kernel, "cpu_ratio": cpu_ratio,
            "bytes_per_conversation_byte": sizes, "growth": growth, "rebuild": rebuilds,
            "final_dir_bytes": final_bytes, "elapsed_s": elapsed,
        }))
        return
    print(f"\nbench_long_sessions: one session, {total:,} turns of {PROMPT_BYTES} B prompt + {REPLY_BYTES} B reply, "
          f"default settings ({elapsed:.0f} s)")
    for c in sorted(cpu):
        lo, hi = min(blocks[c]), max(blocks[c])
        print(f"  CPU per turn around turn {c:>6,}: {cpu[c]:.3f} [{lo:.3f}\u2013{hi:.3f}] ms "
              f"(median of {len(blocks[c])} blocks of {BLOCK} turns, all threads; of it in the kernel: "
              f"{statistics.median(kernel[c]):.3f} ms)")
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
    print(f"  journal directory at the end: {final_bytes / 1e6:.1f} MB for {conversation_bytes / 1e6:.1f} MB of conversation")


if __name__ == "__main__":
    main()
