"""A throwaway PostgreSQL server for the test suite, started and stopped by the test command.

``PgServer`` runs initdb in a temporary directory and starts ``postgres`` on a free local port
with fsync and synchronous_commit on (so durability tests test durability). When the tests run
as root it runs the server as the ``postgres`` OS user (initdb refuses root) through ``runuser``.
The session fixture ``pg_server`` starts one for the whole run, lazily (only when a test needs
it) and stops it at the end; ``pg_url`` gives each test a journal URL of its own (a fresh schema).

    python tests/pgserver.py        # start one by hand, print its URL, stop on Enter
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BINS = "/usr/lib/postgresql/*/bin"
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "on",
    "synchronous_commit": "on",
    "max_connections": "300",
    "shared_buffers": "64MB",
    # The suite kills clients mid-transaction; say so in the log, not on the console.
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}


def pg_bin_dir() -> str | None:
    """The newest installed PostgreSQL server's bin directory, or None."""
    found = sorted(glob.glob(os.path.join(PG_BINS, "initdb")), key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One PostgreSQL server in its own temporary directory. ``start``/``stop``/``crash``/``restart``."""

    def __init__(self, bin_dir: str | None = None) -> None:
        found = bin_dir or pg_bin_dir()
        if found is None:
            raise RuntimeError(f"no PostgreSQL server under {PG_BINS}; install it (`apt-get install -y --no-install-recommends postgresql-15`, which `make test` does)")
        self.bin = found
        self.dir = tempfile.mkdtemp(prefix="mob-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.port = 0
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions")
        self._dbs = itertools.count(1)
        self._shared = ""

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [os.path.join(self.bin, tool), *args]
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if check and res.returncode != 0:
            raise RuntimeError(f"{tool} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}\n{self.tail_log()}")
        return res

    def tail_log(self, lines: int = 30) -> str:
        try:
            return "\n".join(Path(self.log).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self) -> None:
        """Start the server (on a new free port the first time, the same port after a stop)."""
        for attempt in range(5):
            port = self.port or free_port()
            opts = " ".join([f"-p {port}", f"-k {self.dir}", *(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())])
            res = self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", opts, "start", check=False)
            if res.returncode == 0:
                self.port = port
                return
            if self.port:  # a restart must keep its port: clients reconnect to it
                time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"PostgreSQL did not start:\n{res.stdout}\n{res.stderr}\n{self.tail_log()}")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: "fast" (clean) or "immediate" (a crash: no checkpoint, recovery on start)."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", check=False)

    def crash_and_restart(self) -> None:
        self.stop("immediate")
        self.start()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._dbs)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def new_schema(self) -> str:
        """An empty schema in the suite's shared database, and a journal URL whose search_path names it.

        A few milliseconds, where a whole database takes ~0.1 s: each test gets its own."""
        import psycopg

        if not self._shared:
            self._shared = self.new_database()
        name = f"j{next(self._dbs)}"
        with psycopg.connect(self._shared, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self._shared}?options=-csearch_path%3D{name}"

    def close(self) -> None:
        """Stop the server and delete its directory. Immediately: nothing in it is kept, and a clean
        shutdown's checkpoint (flushing every test's tables) took ~10 s on a loaded machine."""
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The suite's PostgreSQL server: started on first use, stopped when the run ends."""
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A journal URL of its own for one test: a fresh, empty schema on the suite's server."""
    return pg_server.new_schema()


if __name__ == "__main__":
    s = PgServer()
    s.start()
    print(s.url(), flush=True)
    try:
        input("running; press Enter to stop ")
    finally:
        s.close()
