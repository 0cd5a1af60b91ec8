"""Timestamped output: every line a replica prints starts with the time it was printed.

``stamp()`` is the one time format of replica logs (UTC, milliseconds: ``2025-01-31T12:00:00.123Z``),
used by the replica for its own lines and by the controller for the lifecycle lines it adds to the
same log, so that a log reads in order and sorts as text. ``stamp_lines()`` wraps ``sys.stdout`` and
``sys.stderr`` so that everything written through Python (print, logging, warnings, tracebacks, the
model's own output) gets the time of its line; a native library writing straight to the file
descriptor bypasses it. Only the standard library is imported here: it runs before the model's.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import time

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def stamp(seconds: float | None = None) -> str:
    t = time.time() if seconds is None else seconds
    whole = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((t - whole) * 1000):03d}Z"


def unstamped(line: str) -> str:
    """``line`` without its leading time, if it has one."""
    return STAMP.sub("", line, count=1)


class StampedWriter(io.TextIOBase):
    """A text stream that writes whole lines, each prefixed with the time its first character was
    written, straight to a file descriptor (an appending log file: each line is one ``write``, so
    lines from other writers never land inside it)."""

    def __init__(self, fd: int, encoding: str = "utf-8") -> None:
        self._fd = fd
        self._encoding = encoding
        self._partial = ""
        self._partial_at = 0.0
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            now = time.time()
            if not self._partial:
                self._partial_at = now
            pending = self._partial + text
            *lines, self._partial = pending.split("\n")
            if lines:
                out = [f"{stamp(self._partial_at)} {lines[0]}\n"]
                out += [f"{stamp(now)} {line}\n" for line in lines[1:]]
                self._partial_at = now
                self._emit("".join(out))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._partial:
                self._emit(f"{stamp(self._partial_at)} {self._partial}\n")
                self._partial = ""

    def _emit(self, text: str) -> None:
        data = text.encode(self._encoding, "backslashreplace")
        while data:
            try:
                written = os.write(self._fd, data)
            except InterruptedError:
                continue
            except OSError:
                return  # nowhere to write to (a closed log): output is not worth a crash
            data = data[written:]


def stamp_lines() -> None:
    """From now on, prefix every line written to ``sys.stdout`` and ``sys.stderr`` with the time."""
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout = StampedWriter(sys.stdout.fileno())
    sys.stderr = StampedWriter(sys.stderr.fileno())
