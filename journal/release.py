"""The hand-off between the writer thread and its callers: requests, and the chained release.

A caller blocks in :meth:`Request.wait` until the writer has committed its write. Waking a
thread costs a futex syscall under the GIL; done by the writer, 32 wakes kept it from its next
transaction for ~0.15 ms, and the 32 woken threads all fought for the GIL at once, the writer
among them after its fsync. So the writer wakes only the first caller of a commit, and each
woken caller wakes the next (:class:`ReleaseChain`): the wakes run on the callers' threads
while the writer is in its next fsync.

The writer's side of the chain, one call per phase of its loop:

* :meth:`ReleaseChain.hold` after a commit: these callers' writes are durable; wake them later
  (anything still held from before is woken first);
* :meth:`ReleaseChain.release` just before the next commit's fsync, when the queue runs dry,
  and when the writer stops.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any


class Request:
    """One caller's write: ``apply`` runs on the writer thread, the caller blocks in :meth:`wait`.

    The writer sets ``result`` or ``error`` and then either releases it directly (a failure,
    known before the commit) or hands it to :meth:`ReleaseChain.hold` (committed).
    """

    __slots__ = ("_chain", "_lock", "apply", "error", "next", "result", "waiting")

    def __init__(self, apply: Callable[[Any], Any], chain: ReleaseChain) -> None:
        self.apply = apply
        # Created held; release() lets the caller's acquire() through. A bare lock is pure C on
        # both sides, where a threading.Event costs a Condition, a waiter lock and Python code
        # per wait/set: measurable with thousands of requests per second.
        self._lock = threading.Lock()
        self._lock.acquire()
        self._chain = chain
        self.result: Any = None
        self.error: BaseException | None = None
        self.next: Request | None = None  # the caller this one wakes once it is woken
        self.waiting = True  # False once the caller left wait(): it will wake no one after that

    def release(self) -> None:
        """Let the caller's :meth:`wait` return. Called at most once per request."""
        self._lock.release()

    def wait(self) -> Any:
        """Block until released; return ``result`` or raise ``error``.

        Interrupted (KeyboardInterrupt in the main thread), it still passes the release on to
        the next caller of its chain, so one impatient caller never strands the others.
        """
        try:
            self._lock.acquire()
        finally:
            after = self._chain.leave(self)
            if after is not None:
                after.release()
        if self.error is not None:
            raise self.error
        return self.result


class ReleaseChain:
    """The callers of the last commit: durable, not yet woken. Owned by one writer.

    Its lock orders a caller leaving :meth:`Request.wait` against the writer linking the chain:
    a caller either is linked (and then passes the release on when it leaves) or has left
    (and is skipped), never linked after leaving.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[Request] = []

    def request(self, apply: Callable[[Any], Any]) -> Request:
        """A new request whose caller takes part in this chain."""
        return Request(apply, self)

    @property
    def holding(self) -> bool:
        """True while committed callers are waiting to be woken."""
        return bool(self._held)

    def hold(self, committed: list[Request]) -> None:
        """Keep the callers of a commit that is now durable; :meth:`release` wakes them.

        Callers still held from an earlier commit are woken first.
        """
        self.release()
        self._held = committed

    def release(self) -> None:
        """Wake the held callers as a chain: the first now, each woken one wakes the next."""
        held, self._held = self._held, []
        if not held:
            return
        with self._lock:
            chain = [r for r in held if r.waiting]  # a caller that left would not pass it on
            for r, after in itertools.pairwise(chain):
                r.next = after
        if chain:
            chain[0].release()

    def leave(self, request: Request) -> Request | None:
        """Called by a caller leaving :meth:`Request.wait`: the one it must wake, if any."""
        with self._lock:
            request.waiting = False
            return request.next
