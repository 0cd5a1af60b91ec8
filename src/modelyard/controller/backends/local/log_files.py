"""Replica log files: which of a deployment's logs to show, the last lines of a file, what was appended
since an offset, and pruning the logs of replicas that are gone."""

from __future__ import annotations

import os
import re
from pathlib import Path

from modelyard.domain.errors import NotFound

_REPLICA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

_BLOCK = 64 * 1024


def tail(path: Path, lines: int, *, start: int = 0, end: int | None = None) -> list[str]:
    """The last ``lines`` lines of ``path`` between byte offsets ``start`` and ``end`` (its size when
    None), read backwards block by block so a large log costs only what is shown."""
    if lines <= 0:
        return []
    try:
        with path.open("rb") as f:
            stop = os.fstat(f.fileno()).st_size if end is None else end
            pos, data = stop, b""
            while pos > start and data.count(b"\n") <= lines:
                step = min(_BLOCK, pos - start)
                pos -= step
                f.seek(pos)
                data = f.read(step) + data
    except FileNotFoundError:
        return []
    out = data.decode("utf-8", "replace").splitlines()
    return out[-lines:]


def read_from(path: Path, offset: int) -> tuple[list[str], int]:
    """Complete lines appended to ``path`` after ``offset``, and the offset to read from next time
    (a line still being written is left for then). A file that shrank is read from its start."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < offset:
                offset = 0
            f.seek(offset)
            data = f.read(size - offset)
    except FileNotFoundError:
        return [], offset
    cut = data.rfind(b"\n") + 1
    if cut == 0:
        return [], offset
    return data[:cut].decode("utf-8", "replace").splitlines(), offset + cut


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def replica_logs(directory: Path, kept: set[str], replica: str | None, *, gone: bool = False) -> list[Path]:
    """The log files in a deployment's ``directory`` of the replicas in ``kept`` (or of ``replica``),
    oldest first; of replicas that are gone too with ``gone``. Raises ``NotFound`` for a replica
    without logs (or gone, without ``gone``)."""
    if replica is not None:
        path = directory / f"{replica}.log"
        if not _REPLICA_NAME.match(replica) or not path.is_file() or not (gone or replica in kept):
            known = sorted(p.stem for p in directory.glob("*.log") if gone or p.stem in kept)
            hint = "" if gone else " (replicas that are gone: add all=true)"
            raise NotFound(
                f"replica: no replica named {replica!r} has logs; replicas with logs: {known}{hint}."
            )
        return [path]
    return sorted((p for p in directory.glob("*.log") if gone or p.stem in kept), key=_mtime)


def read_new(files: list[Path], offsets: dict[Path, int]) -> list[tuple[Path, str]]:
    """The complete lines appended to each of ``files`` since ``offsets`` (which move on)."""
    out: list[tuple[Path, str]] = []
    for path in files:
        lines, offsets[path] = read_from(path, offsets.get(path, 0))
        out.extend((path, line) for line in lines)
    return out


def prune(directory: Path, running: set[str], *, keep: int) -> None:
    """Keep the logs of the latest ``keep`` replicas that are gone (and of all in ``running``)."""
    gone = [p for p in replica_logs(directory, running, None, gone=True) if p.stem not in running]
    for path in gone[: max(0, len(gone) - keep)]:
        path.unlink(missing_ok=True)
        path.with_suffix(".log.1").unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
