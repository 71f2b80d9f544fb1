"""Group commit: one thread owns every write transaction of a journal.

Callers enqueue a :class:`Request` and block on it. The writer takes the first request, then
everything else already queued (no waiting window), applies them all in one LMDB transaction,
commits (one fsync under ``"sync"``) and only then releases each caller with its own result.
Under load, the callers of one commit are released while the next transaction is about to
commit (after its batch is applied, before its fsync): see ``_commit`` for why, and
``release.py`` for how they are released.
A request that raises is taken out and the rest retried, so one bad write never fails the others;
a full map aborts the transaction, grows the map and retries it whole.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

import lmdb
import msgpack

from . import codec, faults
from .errors import JournalError, WriteFailed
from .release import Request
from .storage import Dbs, Storage, Txn
from .writer_queue import MAX_REQUESTS_PER_COMMIT, Failed, WriterQueue

__all__ = ["MAX_REQUESTS_PER_COMMIT", "TxnState", "Writer"]

NOSYNC_FLUSH_SECONDS = 1.0


class TxnState:
    """What the requests of one transaction share: the transaction, dbs, head and clock."""

    __slots__ = ("dbs", "head", "now_ms", "now_raw", "pack", "txn")

    def __init__(self, txn: Txn, dbs: Dbs) -> None:
        self.txn = txn
        self.dbs = dbs
        raw = txn.get(b"head", db=dbs["meta"])
        self.head = codec.from_u64(raw) if raw else 0
        self.now_ms = time.time_ns() // 1_000_000
        # For appends (see codec.record_head): a Packer reused within the transaction, on the
        # writer thread only (Packers are not thread-safe), and the timestamp encoded once.
        self.pack = msgpack.Packer(use_bin_type=True).pack
        self.now_raw = self.pack(self.now_ms)


Apply = Callable[[TxnState], Any]


def _fail(requests: list[Request], error: JournalError) -> None:
    for request in requests:
        request.error = error
        request.release()


class Writer(WriterQueue):
    """The one thread that commits a journal's writes; :meth:`submit` blocks until committed."""

    def __init__(self, storage: Storage, durable: bool) -> None:
        super().__init__()
        self._storage = storage
        self._durable = durable
        self._start(f"journal-writer:{storage.path}")

    def submit(self, apply: Apply) -> Any:
        """Run ``apply`` in the next transaction; return its result once committed."""
        return super().submit(apply)

    def _loop(self) -> None:
        dirty = False
        stop = False
        while not stop:
            if self._chain.holding:
                # Callers of the last commit are still held: take more work only if it is
                # already queued (_commit releases them then), else release them now.
                try:
                    first = self._queue.get_nowait()
                except queue.Empty:
                    self._chain.release()  # phase: the queue ran dry
                    continue
            else:
                try:
                    first = self._queue.get(timeout=NOSYNC_FLUSH_SECONDS if dirty else None)
                except queue.Empty:
                    # "nosync" bounds its loss window: flush once the journal has been idle a second.
                    dirty = not self._flush()
                    continue
            batch, stop = self._take_batch(first)
            if batch:
                self._commit(batch)
                dirty = not self._durable
        if dirty:
            self._flush()

    def _flush(self) -> bool:
        """fsync what "nosync" commits left unsynced; False (try again later) if that fails,
        for example on a full disk: no caller waits for it, and the thread must not die."""
        try:
            self._storage.env.sync(True)
        except lmdb.Error:
            return False
        return True

    def _commit(self, batch: list[Request]) -> None:
        pending = list(batch)
        while pending:
            try:
                with self._storage.env.begin(write=True) as txn:
                    state = TxnState(txn, self._storage.dbs)
                    for request in pending:
                        try:
                            request.result = request.apply(state)
                        except lmdb.MapFullError:
                            raise
                        except Exception as e:
                            raise Failed(request, e) from e
                    txn.put(b"head", codec.u64(state.head), db=self._storage.dbs["meta"])
                    # Release the previous commit's callers only now, just before this commit's
                    # fsync. Their writes are already durable, and the timing matters: py-lmdb
                    # drops the GIL on every get/put, so callers released earlier would compete
                    # with the apply loop above for the GIL on each call and slow it several
                    # times over. Released here, they run (and queue their next writes) while
                    # this commit's fsync runs without the GIL.
                    self._chain.release()  # phase: the next commit is about to fsync
                break
            except (lmdb.MapFullError, lmdb.MapResizedError) as e:
                try:
                    if isinstance(e, lmdb.MapFullError):
                        self._storage.grow()
                    else:
                        self._storage.adopt_map_size()
                except JournalError as failure:
                    # MapGrowthFailed: every caller of this commit hears why, the thread lives on,
                    # and the next write that fills the map tries to grow it again.
                    _fail(pending, failure)
                    pending = []
            except Failed as f:
                # The transaction was aborted; drop the failing request and redo the others.
                if isinstance(f.error, JournalError):
                    error = f.error
                elif isinstance(f.error, lmdb.Error):
                    error = faults.lmdb_error(self._storage.path, "applying a write", f.error)
                else:
                    error = JournalError(f"write failed: {f.error!r}")
                f.request.error = error
                f.request.release()
                pending.remove(f.request)
            except lmdb.Error as e:
                # A commit failure leaves it unknown whether anything is durable: report failure, not success.
                cause = faults.lmdb_error(self._storage.path, "committing", e)
                if type(cause) is JournalError:  # nothing more specific to say about it
                    cause = WriteFailed(f"commit failed, nothing of this write is acknowledged: {e}")
                _fail(pending, cause)
                pending = []
        if pending:
            self.commits += 1
            self._storage.notify_commit()
        # Phase: a commit ended. Its callers wait for the next fsync or an idle queue; callers
        # of the one before are woken now if no commit got as far as releasing them.
        self._chain.hold(pending)
