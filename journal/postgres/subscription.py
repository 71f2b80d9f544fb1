"""Wakeups for subscriptions on PostgreSQL: LISTEN for commits of any process.

Every write transaction queues ``NOTIFY <channel>`` before its COMMIT, so the server delivers it
exactly when the events become visible. One :class:`Listener` thread per opener holds a
connection that only listens (a listening connection is kept busy, so reads go to the read
pool) and bumps a commit counter; subscriptions (``journal.subscription.Subscription``, as on
LMDB) wait on it, then read after their position.

Never missing an event does not depend on notifications arriving: a subscription reads by
position, rereads after every wakeup, and also polls every ``POLL_SECONDS``; a lost listening
connection is replaced, and a wakeup is sent after each reconnect.
"""

from __future__ import annotations

import os
import selectors
import threading
import time

import psycopg
from psycopg import sql

from ..errors import JournalError
from .connect import connect

POLL_SECONDS = 1.0  # a fallback only: commits wake subscriptions by notification


class Commits:
    """A count of commits seen (own, and other processes' once listening): the subscriptions'
    ``CommitSignal`` (journal/subscription.py)."""

    def __init__(self) -> None:
        self.committed = threading.Condition()
        self.commit_count = 0

    def bump(self) -> None:
        with self.committed:
            self.commit_count += 1
            self.committed.notify_all()


class Listener:
    """A thread LISTENing on the journal's channel; every notification bumps ``commits``."""

    def __init__(self, url: str, channel: str, commits: Commits) -> None:
        self._url = url
        self._channel = channel
        self._commits = commits
        self._stop_r, self._stop_w = os.pipe()
        self._closed = False
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="journal-listener", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def _listen(self) -> psycopg.Connection:
        conn = connect(self._url, readonly=True)
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        return conn

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            conn = self._listen()
        except BaseException as e:  # reported to the opener by __init__
            self._error = e
        self._ready.set()
        if conn is None:
            return
        delay = 0.05
        while not self._closed:
            try:
                if conn is None:
                    conn = self._listen()
                    delay = 0.05
                    self._commits.bump()  # whatever was committed while deaf is read now
                self._wait(conn)
            except (psycopg.Error, JournalError, OSError):
                if conn is not None:
                    conn.close()
                    conn = None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        if conn is not None:
            conn.close()
        os.close(self._stop_r)

    def _wait(self, conn: psycopg.Connection) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(conn.fileno(), selectors.EVENT_READ)
            sel.register(self._stop_r, selectors.EVENT_READ)
            while not self._closed:
                sel.select(timeout=None)
                if self._closed:
                    return
                pgconn = conn.pgconn
                pgconn.consume_input()
                if pgconn.status != psycopg.pq.ConnStatus.OK:
                    raise psycopg.OperationalError("the listening connection was lost")
                got = False
                while pgconn.notifies() is not None:
                    got = True
                if got:
                    self._commits.bump()

    def close(self) -> None:
        """Stop listening at once (the thread wakes on a pipe) and close its connection."""
        if self._closed:
            return
        self._closed = True
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        os.close(self._stop_w)
