"""Which host serves a mob: its ownership lock in the journal, and claiming a mob id for a new mob.

Each mob is served by the one host holding ``journal.try_lock("mob:<id>")`` (an advisory lock on
the connection that host writes with, on PostgreSQL; the one writing process holds every lock on
LMDB). A mob about to be recorded (created or forked) is claimed first, so two hosts cannot
record the same mob id.
"""

from __future__ import annotations

import os

import journal

from ..core import events as ev
from ..core.errors import MobError, MobOwnedElsewhere
from ..core.mob import MobStatus, fold_mob


def mob_lock(mob_id: str) -> str:
    """The journal ownership lock of a mob."""
    return f"mob:{mob_id}"


def claim_new(j: journal.EventJournal, mob_id: str, instead: str) -> int:
    """Take the ownership lock of ``mob_id`` for a new mob and check, under it, that no mob lives
    there; the seq its stream continues from (a destroyed mob leaves its seq behind).

    :class:`MobOwnedElsewhere` if another host holds the lock; :class:`MobError` ending with
    ``instead`` (what to do) if the mob exists, or if its stream cannot be read. The lock is
    given back whenever this raises.
    """
    if not j.try_lock(mob_lock(mob_id)):
        raise MobOwnedElsewhere(mob_id, j.lock_owner(mob_lock(mob_id)))
    stream = ev.mob_stream(mob_id)
    try:
        # Read under the lock: another host may have created (or destroyed) it since this one opened.
        history = list(j.read(stream))
        if history and fold_mob(mob_id, history).status is not MobStatus.DESTROYED:
            raise MobError(f"mob {mob_id!r} already exists; {instead}")
        return j.highest_seq(stream)
    except BaseException as e:
        j.unlock(mob_lock(mob_id))
        if isinstance(e, journal.JournalError):
            raise MobError(f"cannot read mob {mob_id!r} from the journal: {e}") from e
        raise


def same_place(j: journal.EventJournal, location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names the journal ``j`` has open (a directory, or a database URL)."""
    url = getattr(j, "url", None)
    if url is not None or str(location).startswith(("postgresql://", "postgres://")):
        return url == str(location)
    return os.path.realpath(j.path) == os.path.realpath(location)
