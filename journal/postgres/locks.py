"""Ownership locks: session-level advisory locks on the writer's connection.

A lock lives exactly as long as the session that took it: ``unlock``, closing the journal, the
process dying or the connection being lost (the server notices a vanished peer through TCP
keepalives, see ``connect.py``) all end it. That is what makes it an ownership primitive: the
owner can only write while its connection, and so its lock, is alive. Locks are not reentrant
here: taking one already held is a no-op, and one ``unlock`` gives it up.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from ..protocol import LockOwner
from .connect import parse_application_name

SessionFn = Callable[[psycopg.Connection, set[str]], bool]


def try_lock(lock_key: int, key: str) -> SessionFn:
    def fn(conn: psycopg.Connection, held: set[str]) -> bool:
        if key in held:
            return True
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key,)).fetchone()
        if row is not None and row[0]:
            held.add(key)
            return True
        return False

    return fn


def unlock(lock_key: int, key: str) -> SessionFn:
    def fn(conn: psycopg.Connection, held: set[str]) -> bool:
        if key not in held:
            return False
        held.discard(key)
        row = conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,)).fetchone()
        return bool(row and row[0])

    return fn


def owner(conn: psycopg.Connection, lock_key: int) -> LockOwner | None:
    """Who holds the advisory lock ``lock_key`` in this database, from pg_locks and pg_stat_activity."""
    unsigned = lock_key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT a.application_name, a.client_addr::text, l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = %s::oid AND l.objid = %s::oid "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (unsigned >> 32, unsigned & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return None
    app, addr, backend_pid = row
    parsed = parse_application_name(app or "")
    if parsed is not None:
        return LockOwner(*parsed)
    # Not one of ours (another tool took the lock): name its connection as the server sees it.
    return LockOwner(addr or "local", int(backend_pid))
