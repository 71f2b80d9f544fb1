"""The PostgreSQL backend of the journal: ``journal.open("postgresql://user@host:port/dbname")``.

Needs the ``postgres`` extra (``pip install mob-actors[postgres]``: psycopg 3). The same
contract and guarantees as the LMDB journal (``journal.protocol``), with any number of writing
processes on any number of machines sharing one database. Modules:

* ``schema.py``: the tables and their version; ``connect.py``: connections, read pool, retries;
* ``writer.py``: group commit, ``ops.py``: what each request does in its transaction;
* ``journal.py``: the :class:`PgJournal`;
* ``subscription.py``: LISTEN/NOTIFY subscriptions; ``locks.py``: ownership (advisory) locks;
* ``verify.py``: the consistency scan.
"""

from __future__ import annotations

from .journal import PgJournal, open_postgres
from .schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "PgJournal", "open_postgres"]
