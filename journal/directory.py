"""A journal directory on disk, checked before LMDB maps anything in it.

LMDB trusts its files: it treats a 0-byte ``data.mdb`` as a new, empty environment (the old
contents silently gone), maps a truncated one and dies of SIGBUS past its end, and lets a
reader that recreated a deleted ``lock.mdb`` read pages the writer is overwriting. So before
opening, this module checks:

* the **format marker** ``journal.format`` (JSON: format version and a creation id), written
  atomically once the journal's databases exist. A directory with journal files but no valid
  marker is refused, except a journal from before the marker (an intact ``data.mdb`` holding
  the journal's databases), which is accepted and given a marker by its next writer;
* ``data.mdb`` against its own two meta pages (read with ``struct``; layout of ``MDB_meta`` in
  liblmdb's mdb.c): magic, LMDB data version, page size, and that the file is as long as the
  newest meta page says its pages reach;
* the identity of ``lock.mdb``: the writer records its inode in ``writer.lock``, and an opener
  that finds another one while that writer runs refuses.

It also creates what it creates private: the directory 0700, every file 0600.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
from dataclasses import dataclass

from .codec import FORMAT_VERSION
from .errors import CorruptJournal, JournalError, JournalLocked, LockFileReplaced, UnsupportedFormat
from .faults import os_error

MARKER = "journal.format"
DATA = "data.mdb"
LOCK = "lock.mdb"
WRITER_LOCK = "writer.lock"
DIR_MODE = 0o700
FILE_MODE = 0o600
_KIND = "mob-actors journal"

# MDB_meta, after the 16-byte page header: magic, version, address, mapsize, then two MDB_db
# (the first one's md_pad is the page size), then last_pg and txnid. 64-bit build, native order.
_META = struct.Struct("=IIQQ" + "IHHQQQQQ" * 2 + "QQ")
_PAGE_HEADER = 16
_MAGIC = 0xBEEFC0DE
_LMDB_DATA_VERSION = 1


@dataclass(frozen=True)
class Marker:
    """What ``journal.format`` says: the format version the journal was written in, and the id
    given to it at creation (also stored inside ``data.mdb``, so a data file from another
    journal is noticed)."""

    version: int
    creation_id: str


def make_directory(path: str) -> None:
    """Create the journal directory (and its parents) if missing; a new one gets mode 0700."""
    if os.path.isdir(path):
        return
    try:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
        os.chmod(path, DIR_MODE)  # makedirs' mode is filtered by the umask
    except OSError as e:
        raise os_error(path, "creating the directory", e) from e


def create_private(path: str) -> int:
    """Open ``path`` read-write, creating it with mode 0600 whatever the umask."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        st = os.fstat(fd)
        if st.st_size == 0 and st.st_mode & 0o777 != FILE_MODE:  # new (or never written): ours to set
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


# -- the format marker --------------------------------------------------------------------------


def read_marker(path: str) -> Marker | None:
    """The directory's marker, None if it has none; raises when it is damaged or newer."""
    marker_path = os.path.join(path, MARKER)
    try:
        with open(marker_path, "rb") as f:
            raw = f.read(4096)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise os_error(marker_path, "reading the format marker", e) from e
    try:
        doc = json.loads(raw)
        ok = isinstance(doc, dict) and doc.get("kind") == _KIND
        version, creation_id = doc["format"], doc["creation_id"]
        ok = ok and isinstance(version, int) and not isinstance(version, bool) and isinstance(creation_id, str)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise CorruptJournal(marker_path, "the journal's format marker is damaged or is not a journal marker")
    if version > FORMAT_VERSION:
        raise UnsupportedFormat(
            f"{path!r} is a journal of format {version}, newer than format {FORMAT_VERSION} that this version of "
            "the journal library reads; open it with the newer version that wrote it"
        )
    return Marker(version, creation_id)


def write_marker(path: str, creation_id: str) -> Marker:
    """Write the marker atomically (temporary file, fsync, rename, fsync of the directory)."""
    marker_path = os.path.join(path, MARKER)
    tmp = f"{marker_path}.{os.getpid()}.tmp"
    body = json.dumps({"kind": _KIND, "format": FORMAT_VERSION, "creation_id": creation_id}).encode() + b"\n"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, marker_path)
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise os_error(path, "writing the format marker", e) from e
    return Marker(FORMAT_VERSION, creation_id)


# -- the files, before LMDB sees them -----------------------------------------------------------


def check_files(path: str, writable: bool) -> tuple[Marker | None, bool]:
    """Check the directory before LMDB opens it; return its marker and whether ``data.mdb`` exists.

    Raises :class:`CorruptJournal` for a marker without data, a lock file without data, or a
    damaged data file; :class:`JournalError` when a reader finds no journal at all.
    """
    marker = read_marker(path)
    data = os.path.join(path, DATA)
    if not os.path.exists(data):
        if marker is not None:
            raise CorruptJournal(data, "data.mdb is missing, but the format marker says a journal was created here")
        if os.path.exists(os.path.join(path, LOCK)):
            raise CorruptJournal(data, "data.mdb is missing but lock.mdb is there: the data file was deleted",
                                 "Restore data.mdb from a backup; if this directory never held a journal, remove lock.mdb.")
        if not writable:
            raise JournalError(f"no journal at {path!r} (no data.mdb there); check the path, or open it once "
                               "without readonly=True to create it")
        return None, False
    check_data_file(data)
    return marker, True


def check_data_file(data: str) -> None:
    """Refuse a ``data.mdb`` that LMDB would misread or fault on: empty, not LMDB, truncated."""
    try:
        with open(data, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            first = f.read(_PAGE_HEADER + _META.size)
            if size == 0:
                raise CorruptJournal(data, "data.mdb is empty (0 bytes): the journal's contents are gone")
            meta0 = _meta(data, first, 0)
            psize = meta0[4]
            f.seek(psize)
            meta1 = _meta(data, f.read(_PAGE_HEADER + _META.size), 1)
    except OSError as e:
        raise os_error(data, "reading the data file's header", e) from e
    newest = max(meta0, meta1, key=lambda m: m[-1])  # LMDB uses the meta page with the higher txnid
    needed = (newest[-2] + 1) * psize
    if size < needed:
        raise CorruptJournal(
            data, f"data.mdb is truncated: it is {size:,} bytes, but its meta page says its pages reach {needed:,} bytes",
        )


def _meta(data: str, page: bytes, index: int) -> tuple[int, ...]:
    if len(page) < _PAGE_HEADER + _META.size:
        raise CorruptJournal(data, f"data.mdb is truncated inside its meta page {index} ({len(page)} bytes of it)")
    fields = _META.unpack_from(page, _PAGE_HEADER)
    magic, version, psize = fields[0], fields[1], fields[4]
    if magic != _MAGIC:
        raise CorruptJournal(data, f"data.mdb's meta page {index} is not an LMDB meta page (zeroed or overwritten)")
    if version != _LMDB_DATA_VERSION:
        raise UnsupportedFormat(f"{data}: LMDB data version {version}, this LMDB reads version {_LMDB_DATA_VERSION}")
    if psize < 512 or psize > 65536 or psize & (psize - 1):
        raise CorruptJournal(data, f"data.mdb's meta page {index} claims a page size of {psize}")
    return fields


# -- the writer's lock and the identity of lock.mdb --------------------------------------------


def lock_for_writing(path: str) -> int:
    """Take the directory's writer lock (released by the OS if this process dies)."""
    lock_path = os.path.join(path, WRITER_LOCK)
    try:
        fd = create_private(lock_path)
    except OSError as e:
        raise os_error(path, f"creating {WRITER_LOCK}", e) from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = (os.pread(fd, 64, 0).decode(errors="replace").split() or ["unknown"])[0]
        os.close(fd)
        if holder == str(os.getpid()):
            raise JournalLocked(
                f"journal {path!r} is already open for writing in this process (pid {holder}); a directory has one "
                "writer, so share that Journal object (PersistentSessionService and MobRuntime.open accept it), "
                "close it first, or open this one with readonly=True"
            ) from None
        raise JournalLocked(
            f"journal {path!r} is already open for writing (by process {holder}); only one writer is allowed. "
            "Close the other writer, or open with readonly=True to read alongside it."
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    except OSError as e:
        os.close(fd)
        raise os_error(path, f"writing {WRITER_LOCK}", e) from e
    return fd


def record_lock_file(path: str, fd: int) -> None:
    """Write into the held writer lock which ``lock.mdb`` this writer uses (its inode)."""
    st = os.stat(os.path.join(path, LOCK))
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {st.st_dev} {st.st_ino}\n".encode(), 0)
    except OSError as e:
        raise os_error(path, f"writing {WRITER_LOCK}", e) from e


def check_lock_file(path: str) -> None:
    """Refuse to open while a running writer uses another ``lock.mdb`` than the one here."""
    try:
        with open(os.path.join(path, WRITER_LOCK), "rb") as f:
            parts = f.read(128).split()
    except OSError:
        return  # no writer has run here, or it left no record
    if len(parts) != 3:
        return
    recorded = (int(parts[1]), int(parts[2])) if parts[1].isdigit() and parts[2].isdigit() else None
    try:
        st = os.stat(os.path.join(path, LOCK))
        current: tuple[int, int] | None = (st.st_dev, st.st_ino)
    except FileNotFoundError:
        current = None
    if recorded is None or current == recorded or not _writer_running(path):
        return
    what = "was deleted" if current is None else "was replaced by another file"
    raise LockFileReplaced(
        f"{os.path.join(path, LOCK)} {what} while the writer (process {parts[0].decode(errors='replace')}) has the "
        "journal open, so a reader here would be invisible to it and could read pages it is overwriting. "
        "Stop that writer (its data is safe) and open the journal again; do not delete lock.mdb while a writer runs."
    )


def _writer_running(path: str) -> bool:
    """True when some process holds the writer lock (a shared try-lock cannot get it)."""
    try:
        fd = os.open(os.path.join(path, WRITER_LOCK), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock if it was taken
    return False
