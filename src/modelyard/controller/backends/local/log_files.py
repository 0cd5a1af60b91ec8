"""Reading replica log files: the last lines of a file, and what was appended since an offset."""

from __future__ import annotations

import os
from pathlib import Path

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
