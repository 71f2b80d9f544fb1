"""The failover scenario shared by the LMDB and PostgreSQL tests: client threads run turns on a
mob with several members, the node hosting it dies, the mob serves again from another node."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import journal
from mob_actors import MobDefinition, Profile
from mob_actors.cluster import HostInfo, LocalCluster, RayMobCluster
from mob_actors.core.events import turn_text

MEMBERS = ("a", "b", "c", "d")


@dataclass
class Run:
    before: HostInfo
    after: HostInfo
    failover_s: float  # from the kill to the first turn acknowledged by the new host (started after the kill)
    acked: list[tuple[str, str, str]] = field(default_factory=list)  # (request id, member, reply)


def run_failover(local: LocalCluster, cluster: RayMobCluster, mob_id: str, *, turns_before: int = 16) -> Run:
    """Turns from one client thread per member; kill the hosting node mid-stream; keep going."""
    mob = cluster.create_mob(MobDefinition(mob_id, {"worker": Profile("worker")}))
    for member in MEMBERS:
        mob.spawn(member, "worker")
    before = cluster.where(mob_id)
    acked: list[tuple[float, float, str, str, str]] = []  # (started, acknowledged, request id, member, reply)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def client(member: str) -> None:
        n = 0
        try:
            while not stop.is_set():
                request_id = f"{member}-{n}"
                started = time.monotonic()
                reply = mob.turn(member, request_id, request_id=request_id)
                with lock:
                    acked.append((started, time.monotonic(), request_id, member, reply.text))
                n += 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(m,), daemon=True) for m in MEMBERS]
    for t in threads:
        t.start()
    _wait(lambda: len(acked) >= turns_before, 60, "turns before the kill")
    killed_at = time.monotonic()
    local.kill_node(before.node_id)
    dead_at = time.monotonic()  # every process of the node is gone: later turns are the new host's
    _wait(lambda: sum(started > dead_at for started, *_ in acked) >= 6, 60, "turns after the kill")
    stop.set()
    for t in threads:
        t.join(60)
    assert not errors, f"a client failed: {errors[0]!r}"
    first_after = min(done for started, done, *_ in acked if started > dead_at)
    after = cluster.where(mob_id)
    # Commands work on the new host too, and it has the whole roster back.
    mob.spawn("late", "worker")
    mob.stop()
    mob.resume()
    assert [m.member_id for m in mob.members()] == [*MEMBERS, "late"]
    return Run(before, after, first_after - killed_at, [(r, m, text) for _, _, r, m, text in acked])


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def check_journal(j: journal.EventJournal, run: Run) -> None:
    """Every acknowledged turn is in the journal once; no request id twice; no gaps anywhere."""
    turns = [e for s in j.streams("session:") for e in j.read(s.stream_id) if e.type == "turn_applied"]
    counts = collections.Counter(e.data["run_id"] for e in turns)
    assert [r for r, c in counts.items() if c > 1] == [], "a request id was applied twice"
    missing = [r for r, _, _ in run.acked if counts[r] != 1]
    assert missing == [], f"acknowledged turns missing from the journal: {missing}"
    replies = {e.data["run_id"]: turn_text(e.data) for e in turns}
    assert all(replies[r] == text for r, _, text in run.acked)  # what the client got is what was stored
    positions = [e.position for e in j.read_all()]
    assert positions == list(range(positions[0], positions[0] + len(positions))), "gap in global positions"
    for info in j.streams(""):
        seqs = [e.seq for e in j.read(info.stream_id)]
        assert seqs == list(range(1, len(seqs) + 1)), f"gap in {info.stream_id}: {seqs}"
