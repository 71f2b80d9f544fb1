"""Connections to the journal's database: how they are opened, pooled for reads, and retried.

What is safe to retry after a lost connection: every read (it changed nothing), and a write
transaction that failed before its COMMIT was sent (the server rolls it back). A write whose
COMMIT was sent but not answered is never retried: see ``writer.py``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import JournalClosed, JournalError, JournalUnavailable

T = TypeVar("T")

RETRY_SECONDS = 15.0  # how long a read or an uncommitted write keeps trying to reconnect
CONNECT_TIMEOUT = 5
APP_PREFIX = "mob-journal"
# Detect a peer that vanished without closing TCP (a dead machine) within ~10 s, on both ends:
# the server then ends the session, which releases its advisory (ownership) locks.
_CLIENT_KEEPALIVE = {"keepalives": "1", "keepalives_idle": "5", "keepalives_interval": "2", "keepalives_count": "3", "tcp_user_timeout": "10000"}
_SERVER_KEEPALIVE = "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 10000"


def redact(url: str) -> str:
    """The URL without its password, for messages and ``Journal.path``."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<an unparsable PostgreSQL URL>"
    user = str(params.get("user") or "")
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or "")
    db = str(params.get("dbname") or "")
    extra = {k: v for k, v in params.items() if k not in ("user", "password", "host", "port", "dbname")}
    tail = ("?" + "&".join(f"{k}={v}" for k, v in sorted(extra.items()))) if extra else ""
    return f"postgresql://{user + '@' if user else ''}{host}{':' + port if port else ''}/{db}{tail}"


def application_name() -> str:
    """How this process names itself to the server; ``lock_owner`` reads it back (63 bytes at most)."""
    return f"{APP_PREFIX} {os.getpid()} {socket.gethostname()}"[:63]


def parse_application_name(name: str) -> tuple[str, int] | None:
    parts = name.split(" ", 2)
    if len(parts) == 3 and parts[0] == APP_PREFIX and parts[1].isdigit():
        return parts[2], int(parts[1])
    return None


def is_connection_error(e: BaseException, conn: psycopg.Connection | None = None) -> bool:
    """True for a lost or refused connection (as opposed to an error in what was sent)."""
    if conn is not None and conn.broken:
        return True
    return isinstance(e, psycopg.OperationalError) and not isinstance(e, psycopg.errors.QueryCanceled)


def connect(url: str, *, readonly: bool, synchronous_commit: str | None = None) -> psycopg.Connection:
    """A new autocommit connection with keepalives set; JournalUnavailable if the server cannot be reached."""
    params = conninfo_to_dict(url)
    for k, v in _CLIENT_KEEPALIVE.items():
        params.setdefault(k, v)
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
    params["application_name"] = application_name()
    try:
        conn = psycopg.connect(make_conninfo("", **params), autocommit=True)
    except psycopg.OperationalError as e:
        raise JournalUnavailable(f"cannot connect to the journal's database {redact(url)}: {str(e).strip()}") from e
    try:
        settings = [_SERVER_KEEPALIVE]
        if readonly:
            settings.append("SET default_transaction_read_only = on")
        if synchronous_commit is not None:
            settings.append(f"SET synchronous_commit = {synchronous_commit}")
        conn.execute("; ".join(settings))
    except psycopg.Error as e:
        conn.close()
        raise JournalUnavailable(f"cannot set up a connection to {redact(url)}: {str(e).strip()}") from e
    return conn


def connect_retrying(url: str, deadline: float, **kwargs: Any) -> psycopg.Connection:
    """``connect``, retried with backoff until ``deadline`` (time.monotonic) while the server is unreachable."""
    delay = 0.05
    while True:
        try:
            return connect(url, **kwargs)
        except JournalUnavailable:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


class ReadPool:
    """Read-only connections handed to one thread at a time; a broken one is replaced and the read retried.

    Connections are made on demand and kept (at most ``keep`` idle) until ``close``.
    """

    def __init__(self, url: str, where: str, keep: int = 4) -> None:
        self._url = url
        self._where = where
        self._keep = keep
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()

    def run(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """Run ``fn(conn)``; a lost connection is replaced and ``fn`` run again (reads are idempotent)."""
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            conn = self._take(deadline)
            try:
                result = fn(conn)
            except psycopg.Error as e:
                if not is_connection_error(e, conn):
                    self._give(conn)
                    raise JournalError(f"reading the journal at {self._where} failed: {str(e).strip()}") from e
                conn.close()
                if self._closed:
                    raise JournalClosed(f"journal {self._where} is closed; open it again with journal.open()") from e
                if time.monotonic() > deadline:
                    raise JournalUnavailable(f"lost the connection to {self._where} and could not get it back: {str(e).strip()}") from e
                continue
            except BaseException:
                conn.close()  # a half-read result set cannot be reused
                raise
            self._give(conn)
            return result

    def _take(self, deadline: float) -> psycopg.Connection:
        with self._lock:
            if self._closed:
                raise JournalClosed(f"journal {self._where} is closed; open it again with journal.open()")
            if self._idle:
                return self._idle.pop()
        return connect_retrying(self._url, deadline, readonly=True)

    def _give(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._keep and not conn.broken:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        if os.getpid() == self._pid:  # a forked child must not talk on its parent's sockets
            for conn in idle:
                conn.close()
