"""Owner-only modes for what the server keeps on local disk: the data dir, the SQLite database with its
WAL, shared-memory and journal files, and the local artifact store.

Directories are created 0700 and files 0600, whatever the umask; ones that exist with group or other
bits set (an install made before this rule, or by hand) are tightened when the server starts, with a
warning in its log. SQLite creates its WAL and SHM files with the mode of the database file, so the
database file is created (empty, which SQLite accepts as a new database) before the first connection.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("modelyard.storage")

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """``path`` as a directory, creating it and any missing parents with mode 0700 (existing ones are
    left as they are; see ``tighten``)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by another thread or process
            continue
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask; a 0o7xx umask would matter
    return path


def tighten(path: Path) -> bool:
    """Remove group and other permissions from ``path`` if it exists; True if its mode changed."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    if not mode & 0o077:
        return False
    os.chmod(path, mode & 0o700)
    log.warning(
        "Tightened the permissions of %s from %04o to %04o: modelyard keeps its data owner-only.",
        path,
        mode,
        mode & 0o700,
    )
    return True


def private_tree_root(path: Path) -> Path:
    """A directory that must be owner-only: created 0700, or tightened if it exists."""
    existed = path.exists()
    private_dir(path)
    if existed:
        tighten(path)
    return path


def private_sqlite(database: Path) -> None:
    """Before the first connection: the database's directory (0700 where created here), the database
    file created 0600 if missing, and the file and its companions tightened if they exist."""
    private_dir(database.parent)
    try:
        fd = os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.fchmod(fd, FILE_MODE)  # the umask filtered os.open's mode
        os.close(fd)
    for suffix in ("", *SQLITE_COMPANIONS):
        tighten(Path(f"{database}{suffix}"))
