"""The PostgreSQL journal's tables, their version, and the names derived from its schema.

The tables live in one PostgreSQL schema: the connection's current schema (the first existing
schema on its ``search_path``, ``public`` by default), so several journals can share a database
when each URL sets its own ``search_path`` (``?options=-csearch_path%3Dteam_a``).

* ``journal_meta``:      key -> value; ``schema_version`` says which layout this is.
* ``journal_head``:      one row, the last global position. Every write transaction locks it
  first (``FOR UPDATE``), which orders all writers of every process: positions are assigned
  in commit order and stay gap-free.
* ``journal_events``:    position -> (stream_id, seq, record); the record is ``codec.encode_record``.
* ``journal_streams``:   stream_id -> (highest_seq, deleted_to).
* ``journal_snapshots``: (stream_id, seq) -> (timestamp_ms, value as the LMDB journal stores it).

Stream ids use the "C" collation, so they sort by code point (as the LMDB journal's UTF-8 keys do).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..errors import JournalError, UnsupportedFormat

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS {s}.journal_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.journal_head (
    id int PRIMARY KEY CHECK (id = 1),
    position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.journal_events (
    position bigint PRIMARY KEY,
    stream_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    record bytea NOT NULL,
    UNIQUE (stream_id, seq)
);
CREATE TABLE IF NOT EXISTS {s}.journal_streams (
    stream_id text COLLATE "C" PRIMARY KEY,
    highest_seq bigint NOT NULL,
    deleted_to bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.journal_snapshots (
    stream_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    timestamp_ms bigint NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (stream_id, seq)
);
INSERT INTO {s}.journal_head (id, position) VALUES (1, 0) ON CONFLICT DO NOTHING;
INSERT INTO {s}.journal_meta (key, value) VALUES ('schema_version', '{version}') ON CONFLICT DO NOTHING;
"""


@dataclass(frozen=True)
class Names:
    """The quoted table names and the notification channel of one journal schema."""

    schema: str

    def table(self, name: str) -> str:
        return sql.Identifier(self.schema).as_string(None) + "." + name

    @property
    def events(self) -> str:
        return self.table("journal_events")

    @property
    def streams(self) -> str:
        return self.table("journal_streams")

    @property
    def head(self) -> str:
        return self.table("journal_head")

    @property
    def snapshots(self) -> str:
        return self.table("journal_snapshots")

    @property
    def meta(self) -> str:
        return self.table("journal_meta")

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel commits are announced on (a schema name can be too long for one)."""
        return "mob_journal_" + hashlib.blake2b(self.schema.encode(), digest_size=8).hexdigest()

    def lock_key(self, key: str) -> int:
        """The advisory lock (a signed 64-bit key) for ownership lock ``key`` of this journal."""
        digest = hashlib.blake2b(self.schema.encode() + b"\x00" + key.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


def current_schema(conn: psycopg.Connection, where: str) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise JournalError(
            f"{where}: the connection's search_path names no existing schema to keep the journal in; "
            "create the schema, or fix search_path in the URL's options"
        )
    return str(row[0])


def prepare(conn: psycopg.Connection, names: Names, *, create: bool, where: str) -> None:
    """Check the stored schema version; create the tables first if ``create`` and they are missing.

    Raises UnsupportedFormat for a journal written by a newer schema, and JournalError when
    there is no journal and ``create`` is False (a readonly open).
    """
    version = _stored_version(conn, names)
    if version is None:
        if not create:
            raise JournalError(f"no journal at {where} (no journal tables in schema {names.schema!r}); "
                               "check the URL, or open it once without readonly=True to create it")
        with conn.transaction():
            # Two processes opening a fresh database at once: one creates, the other then finds it.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (names.lock_key("\x00create"),))
            conn.execute(_DDL.format(s=sql.Identifier(names.schema).as_string(None), version=SCHEMA_VERSION))
        version = _stored_version(conn, names)
    if version is None or version > SCHEMA_VERSION:
        raise UnsupportedFormat(
            f"the journal at {where} has schema version {version}, newer than this library's {SCHEMA_VERSION}; "
            "nothing was changed. Upgrade mob-actors to open it."
        )
    if version < SCHEMA_VERSION:  # no older layout exists yet; a future one migrates here
        raise UnsupportedFormat(f"the journal at {where} has unknown schema version {version}")


def _stored_version(conn: psycopg.Connection, names: Names) -> int | None:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (names.meta,)).fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute(f"SELECT value FROM {names.meta} WHERE key = 'schema_version'").fetchone()
    if row is None:
        return None
    try:
        return int(row[0])
    except ValueError:
        raise UnsupportedFormat(f"the journal's schema_version {row[0]!r} is not a number") from None
