"""Group commit on PostgreSQL: one thread and one connection own every write of an opener.

The design is the LMDB writer's (``journal/writer.py``): callers enqueue a request and block;
the writer takes the first request and everything already queued (no waiting window), runs them
in one transaction, commits, and only then releases each caller with its own result. A
transaction is two round trips when it only appends:

1. ``BEGIN``; lock the head row ``FOR UPDATE`` (this orders every writer of every process, so
   positions are gap-free and in commit order); read the rows of the streams being written.
2. one statement inserting the events, updating the stream rows and the head and queueing the
   ``NOTIFY`` that wakes subscribers elsewhere (delivered at commit); ``COMMIT``.

While nobody else appends, one round trip does: the head and the stream rows are those of this
writer's own last commit, and the write is guarded so that it fails (and is redone the two-trip
way) if the head moved meanwhile; every other process's append moves it. After such a miss the
writer reads the rows for a while (other writers are active).

Requests with their own SQL (delete_to, snapshots) run between those steps, in queue order.
Ownership locks are session-level advisory locks taken on this connection, outside transactions.

A lost connection before ``COMMIT`` was sent is safe: the server rolls the transaction back, so
the writer reconnects and runs the batch again (ownership locks are lost with the connection).
When the connection is lost after ``COMMIT`` was sent, the outcome is unknown: every request of
the batch fails with :class:`CommitUnknown`, never success. A request that raises is taken out
and the others run again, so one bad request never fails the rest.
"""

from __future__ import annotations

import os
import queue
import select
import socket
import time
from collections.abc import Callable
from typing import Any

import psycopg

from ..errors import CommitUnknown, JournalError, JournalUnavailable
from ..release import Request
from ..writer_queue import Failed, WriterQueue
from .connect import RETRY_SECONDS, connect, connect_retrying, is_connection_error, redact
from .ops import AppendOp, PgTxn, SessionOp, SqlOp
from .schema import Names

LOCK_CHECK_SECONDS = 1.0  # idle check of the writer connection while it holds ownership locks


class _Lost(Exception):
    """The connection was lost; ``committing`` says whether COMMIT may have been sent."""

    def __init__(self, error: BaseException, committing: bool) -> None:
        self.error = error
        self.committing = committing


class PgWriter(WriterQueue):
    """The writer thread of one PostgreSQL journal opener (see the module docstring)."""

    def __init__(self, url: str, names: Names, *, durable: bool, on_commit: Callable[[int], None]) -> None:
        super().__init__()
        self._url = url
        self._where = redact(url)
        self._names = names
        self._sync = "on" if durable else "off"
        self._on_commit = on_commit
        self._conn: psycopg.Connection | None = connect(url, readonly=False, synchronous_commit=self._sync)
        self.held: set[str] = set()  # ownership locks held on the connection right now
        self._rows: dict[str, list[int]] = {}  # see _commit_remembered
        self.connection_losses = 0
        self._start(f"journal-writer:{self._where}")

    def submit(self, op: AppendOp | SqlOp | SessionOp) -> Any:
        """Run ``op`` in the next transaction; return its result once committed."""
        return super().submit(op)  # the op is applied by this writer only

    def abandon(self) -> None:
        """After fork, in the child: the thread and the socket are the parent's; touch neither."""
        self._closed = True

    # -- the thread ---------------------------------------------------------------------------

    def _loop(self) -> None:
        stop = False
        while not stop:
            if self._chain.holding:
                # Callers of the last commit are still held: take more work only if it is
                # already queued (the next commit releases them), else release them now.
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    self._chain.release()  # phase: the queue ran dry
                    continue
            elif self.held:
                # Holding ownership locks: check the connection while idle, so that a lost
                # one (and with it the locks) is noticed within a second, not at the next write.
                try:
                    item = self._queue.get(timeout=LOCK_CHECK_SECONDS)
                except queue.Empty:
                    self._check_connection()
                    continue
            else:
                item = self._queue.get()
            batch, stop = self._take_batch(item)
            if batch:
                self._process(batch)

    def _stopped(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _check_connection(self) -> None:
        """A cheap round trip; a lost connection is dropped (and its locks with it) for the next batch."""
        if self._conn is None:
            return
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error as e:
            if is_connection_error(e, self._conn):
                self._conn.close()
                self._conn = None
                self.connection_losses += 1
                self.held.clear()

    def _process(self, batch: list[Request]) -> None:
        for r in batch:
            if isinstance(r.apply, SessionOp):
                self._session(r)
        self._transact([r for r in batch if not isinstance(r.apply, SessionOp)])

    def _transact(self, pending: list[Request]) -> None:
        """Commit ``pending`` in one transaction, taking out requests that fail; release every caller."""
        deadline = time.monotonic() + RETRY_SECONDS
        while pending:
            try:
                self._commit(pending)
            except Failed as f:
                # The transaction was rolled back; drop the failing request and redo the others.
                error = f.error if isinstance(f.error, JournalError) else JournalError(f"write failed: {f.error!r}")
                self._finish(f.request, error=error)
                pending.remove(f.request)
                continue
            except _Split as e:
                # The batch's shared statement failed (no request's own code did): isolate the culprit.
                if len(pending) == 1:
                    self._finish(pending[0], error=JournalError(f"write failed, nothing of it was stored: {e.error}"))
                else:
                    for r in pending:
                        self._transact([r])
                return
            except _Lost as lost:
                if lost.committing:
                    for r in pending:
                        self._finish(r, error=CommitUnknown(
                            f"the connection to {self._where} was lost while committing, so it is unknown whether "
                            f"this write is stored (it is not acknowledged); read the stream before writing again: {lost.error}"))
                    self._reconnect(deadline, fail=[])
                    return
                if not self._reconnect(deadline, fail=pending):
                    return
                continue
            self._chain.hold(pending)  # phase: committed; woken before the next commit round trip or when idle
            self.commits += 1
            self._on_commit(self._last_head)
            return

    def _finish(self, r: Request, error: BaseException | None = None) -> None:
        if error is not None:
            r.error = error
        r.release()

    def _reconnect(self, deadline: float, fail: list[Request]) -> bool:
        """Replace the lost connection; if that fails by ``deadline``, fail ``fail`` (nothing of them was written)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self.connection_losses += 1
        self.held.clear()  # the server ends the old session, which releases its advisory locks
        try:
            self._conn = connect_retrying(self._url, deadline, readonly=False, synchronous_commit=self._sync)
            return True
        except JournalUnavailable as e:
            for r in fail:
                self._finish(r, error=JournalUnavailable(f"{e}; nothing of this write was stored"))
            return False  # the next batch tries again

    def _session(self, r: Request) -> None:
        op: SessionOp = r.apply  # type: ignore[assignment]
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            if self._conn is None and not self._reconnect(deadline, fail=[r]):
                return
            assert self._conn is not None
            try:
                r.result = op.fn(self._conn, self.held)
                break
            except psycopg.Error as e:
                if not is_connection_error(e, self._conn):
                    self._finish(r, error=JournalError(f"ownership lock operation failed: {str(e).strip()}"))
                    return
                if not self._reconnect(deadline, fail=[r]):
                    return
            except Exception as e:
                self._finish(r, error=JournalError(f"ownership lock operation failed: {e!r}"))
                return
        self._finish(r)

    def _commit(self, pending: list[Request]) -> None:
        conn = self._conn
        if conn is None:
            raise _Lost(psycopg.OperationalError("not connected"), committing=False)
        ids: set[str] = set()
        for r in pending:
            ids.update(r.apply.stream_ids())  # type: ignore[attr-defined]
        if self._fast_ok(pending, ids):
            if not _still_connected(conn):
                # Closed by the server while idle (terminated, shut down): nothing was sent, so
                # reconnecting and running the batch is safe; the one-trip path could not tell.
                raise _Lost(psycopg.OperationalError("the server closed the connection"), committing=False)
            try:
                self._commit_remembered(conn, pending, ids)
                return
            except _Stale:
                self._forget_rows(backoff=True)  # someone else appended: read the rows this time
        self._commit_read(conn, pending, ids)

    # The rows of the streams this writer wrote, and the head, as of its last commit. While nobody
    # else appends (one host per database, or per stream set), the next transaction can use them
    # instead of reading them: one round trip instead of two, guarded by the head (see PgTxn.flush_sql).
    _remembered_head: int | None = None
    _backoff = 0
    MAX_REMEMBERED = 50_000
    BACKOFF_TXNS = 50  # after a stale guess, read the rows for this many transactions

    def _fast_ok(self, pending: list[Request], ids: set[str]) -> bool:
        if self._backoff > 0:
            self._backoff -= 1
            return False
        rows = self._rows
        return self._remembered_head is not None and all(isinstance(r.apply, AppendOp) for r in pending) and all(s in rows for s in ids)

    def _forget_rows(self, backoff: bool = False) -> None:
        self._remembered_head = None
        self._rows.clear()
        if backoff:
            self._backoff = self.BACKOFF_TXNS

    def _remember(self, txn: PgTxn) -> None:
        if len(self._rows) > self.MAX_REMEMBERED:
            self._rows.clear()
        self._rows.update(txn.streams)
        self._remembered_head = txn.head

    def _commit_remembered(self, conn: psycopg.Connection, pending: list[Request], ids: set[str]) -> None:
        """One round trip: BEGIN, the head lock, the guarded write and COMMIT, pipelined."""
        n = self._names
        assert self._remembered_head is not None
        txn = PgTxn(conn.cursor(binary=True), n, self._remembered_head, {s: list(self._rows[s]) for s in ids})
        for r in pending:
            try:
                r.result = r.apply.apply(txn)  # type: ignore[attr-defined]
            except Exception as e:
                raise Failed(r, e) from e
        final = txn.flush_sql(final=True, guard=True)
        assert final is not None
        self._chain.release()  # as in _commit_read: the previous callers run while this one waits
        cur = txn.cur
        try:
            with conn.pipeline():
                cur.execute("BEGIN")
                cur.execute(f"SELECT position FROM {n.head} WHERE id = 1 FOR UPDATE")
                cur.execute(*final)
                cur.execute("COMMIT")
        except psycopg.Error as e:
            if is_connection_error(e, conn):
                self._forget_rows()
                raise _Lost(e, committing=True) from e
            self._rollback(conn)
            if isinstance(e, (psycopg.errors.DivisionByZero, psycopg.errors.UniqueViolation)):
                raise _Stale() from e
            self._forget_rows()
            raise _Split(e) from e
        self._last_head = txn.head
        self._remember(txn)

    def _commit_read(self, conn: psycopg.Connection, pending: list[Request], ids: set[str]) -> None:
        """Two round trips: lock the head and read the stream rows, then write and COMMIT."""
        n = self._names
        committing = False
        try:
            cur = conn.cursor(binary=True)
            streams_cur = conn.cursor(binary=True)
            with conn.pipeline():
                cur.execute("BEGIN")
                cur.execute(f"SELECT position FROM {n.head} WHERE id = 1 FOR UPDATE")
                streams_cur.execute(f"SELECT stream_id, highest_seq, deleted_to FROM {n.streams} WHERE stream_id = ANY(%b::text[])", (list(ids),))
            head_row = cur.fetchone()
            if head_row is None:
                raise _Split(JournalError(f"the journal at {self._where} has no head row; its tables were damaged"))
            streams = {sid: [hi, dt] for sid, hi, dt in streams_cur.fetchall()}
            txn = PgTxn(cur, n, head_row[0], streams)
            for r in pending:
                try:
                    r.result = r.apply.apply(txn)  # type: ignore[attr-defined]
                except psycopg.Error as e:
                    if is_connection_error(e, conn):
                        raise
                    raise Failed(r, e) from e
                except Exception as e:
                    raise Failed(r, e) from e
            final = txn.flush_sql(final=True)
            assert final is not None
            committing = True
            # Wake the previous commit's callers now: they run (and queue their next writes)
            # while this thread waits for the server, not while it needs the GIL above.
            self._chain.release()
            with conn.pipeline():
                cur.execute(*final)
                cur.execute("COMMIT")
            self._last_head = txn.head
        except (Failed, _Split):
            self._forget_rows()
            self._rollback(conn)
            raise
        except psycopg.Error as e:
            self._forget_rows()
            if is_connection_error(e, conn):
                raise _Lost(e, committing) from e
            self._rollback(conn)
            raise _Split(e) from e
        self._remember(txn)

    def _rollback(self, conn: psycopg.Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:
            pass  # a broken connection is noticed (and replaced) by the next transaction

    _last_head = 0


def _still_connected(conn: psycopg.Connection) -> bool:
    """False when the idle connection has been closed by the server, checked without blocking: an
    idle session receives nothing unasked but a FATAL error ('E') before the server closes it,
    then end of file; notices ('N') and parameter reports ('S') mean it is alive."""
    fd = conn.fileno()
    readable, _, _ = select.select([fd], [], [], 0)
    if not readable:
        return True
    with socket.socket(fileno=os.dup(fd)) as sock:
        try:
            first = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except OSError:
            return False
    return first not in (b"", b"E")


class _Stale(Exception):
    """The remembered head and rows were out of date: nothing was written; read them instead."""


class _Split(Exception):
    def __init__(self, error: BaseException) -> None:
        self.error = error


