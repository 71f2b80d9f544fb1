"""Fixtures every suite can use: the throwaway PostgreSQL server (tests/pgserver.py), started on
first use and stopped when the run ends."""

from pgserver import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]
