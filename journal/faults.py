"""What OS and LMDB failures mean, said as the library's own errors.

No raw ``OSError`` or ``lmdb.Error`` leaves the journal: each becomes a :class:`JournalError`
subclass that names the file and what to do (see the README's "When things go wrong").
"""

from __future__ import annotations

import errno
import os

import lmdb

from .errors import CannotOpen, CorruptJournal, DiskFull, JournalError, UnsupportedFormat

# Below this much free space, an I/O error on a write is taken for a full disk: LMDB reports a
# short write as EIO ("Input/output error"), not ENOSPC.
NEARLY_FULL_BYTES = 1 << 20

_DAMAGE = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError, lmdb.PanicError, lmdb.BadChecksumError)


def os_error(path: str, action: str, e: OSError) -> JournalError:
    """The library's error for an OS failure while ``action`` on ``path``."""
    reason = e.strerror or str(e)
    if e.errno == errno.ENOSPC:
        return DiskFull(f"the disk holding {path!r} is full ({action}: {reason}); free some space and try again")
    if e.errno in (errno.EEXIST, errno.ENOTDIR):
        return CannotOpen(f"cannot use {path!r} as a journal directory ({action}: {reason}): "
                          "the path, or a part of it, is a file; pass the path of a directory")
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return CannotOpen(f"cannot write in {path!r} ({action}: {reason}); open it with readonly=True to read it, "
                          "or give this process write access")
    return CannotOpen(f"cannot use {path!r} as a journal directory ({action}: {reason})")


def disk_is_full(path: str) -> bool:
    """True when the file system holding ``path`` has (almost) no space left for us."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < NEARLY_FULL_BYTES


def lmdb_error(path: str, action: str, e: lmdb.Error) -> JournalError:
    """The library's error for an LMDB failure while ``action`` on the journal at ``path``."""
    data = os.path.join(path, "data.mdb")
    text = str(e)
    if isinstance(e, _DAMAGE):
        return CorruptJournal(data, f"LMDB finds the file damaged while {action} ({text})")
    if isinstance(e, lmdb.VersionMismatchError):
        return UnsupportedFormat(f"{data}: written by an incompatible LMDB version ({text}); open it with the version that wrote it")
    if "No space left" in text or (("Input/output error" in text or isinstance(e, lmdb.DiskError)) and disk_is_full(path)):
        return DiskFull(f"the disk holding {path!r} is full ({action}: {text}); nothing of this write is "
                        "acknowledged. Free some space: the journal continues where it was")
    if isinstance(e, lmdb.ReadonlyError) or "Permission denied" in text or "Read-only file system" in text:
        return CannotOpen(f"cannot write the journal at {path!r} ({action}: {text}); open it with readonly=True "
                          "to read it, or give this process write access")
    return JournalError(f"the journal at {path!r} failed while {action}: {text}")
