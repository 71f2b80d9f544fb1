"""What both writer threads share (``writer.py`` on LMDB, ``postgres/writer.py``): the queue of
requests, :meth:`submit` and :meth:`close`, taking a batch, and never leaving a caller blocked
when the thread stops. How a batch is committed is each backend's own."""

from __future__ import annotations

import queue
import threading
from typing import Any

from .errors import JournalClosed, JournalError
from .release import ReleaseChain, Request

MAX_REQUESTS_PER_COMMIT = 4096
STOP = object()  # queued by close(): commit what came before it, then end the thread


class Failed(Exception):
    """A request's own code raised: its transaction is given up and the batch runs without it."""

    def __init__(self, request: Request, error: BaseException) -> None:
        self.request = request
        self.error = error


class WriterQueue:
    """The writer thread's queue and lifecycle. A backend defines ``_loop`` (take batches and commit
    them until :data:`STOP`) and may define ``_stopped`` (clean up once the thread ends)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._chain = ReleaseChain()  # committed (durable) requests whose callers are not yet woken
        self.commits = 0  # exposed for benchmarks and tests: requests per commit = calls / commits

    def _start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, apply: Any) -> Any:
        """Run ``apply`` in the next transaction; return its result once committed."""
        if self._closed:
            raise JournalClosed("the journal is closed; open it again to write")
        request = self._chain.request(apply)
        self._queue.put(request)
        return request.wait()

    def close(self) -> None:
        """Commit what is queued, then stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(STOP)
        self._thread.join()

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as e:  # never leave a caller blocked forever
            self._fail_queued(JournalError(f"the journal writer thread died: {e!r}"))
            raise
        finally:
            self._chain.release()  # phase: the writer stops; held writes are committed, they succeeded
            self._closed = True
            self._fail_queued(JournalClosed("the journal was closed before this write was committed; nothing was written"))
            self._stopped()

    def _loop(self) -> None:
        raise NotImplementedError

    def _stopped(self) -> None:
        """Run on the writer thread as it ends, after every queued caller was answered."""

    def _take_batch(self, item: Any) -> tuple[list[Request], bool]:
        """``item`` and what else is queued already (no waiting window), up to
        MAX_REQUESTS_PER_COMMIT; and whether STOP was among them."""
        batch: list[Request] = []
        stop = False
        while True:
            if item is STOP:
                stop = True
            else:
                batch.append(item)
            if len(batch) >= MAX_REQUESTS_PER_COMMIT:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return batch, stop

    def _fail_queued(self, error: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not STOP:
                item.error = error
                item.release()
