"""A process title that says what a replica is: ``modelyard serve-model <deployment>/<replica>`` in
``ps`` (the command line, with setproctitle where it is installed) and the replica's name as the
kernel's 15-character command name (``comm``: what ``top`` and ``ps -e`` show) everywhere on Linux.
Neither may fail the server: a title is a convenience."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys

_PR_SET_NAME = 15
_COMM_BYTES = 15


def set_title(title: str, short: str) -> None:
    """``title`` as the command line ``ps`` shows (if setproctitle is installed) and ``short``,
    cut to 15 bytes, as the command name."""
    try:
        import setproctitle  # optional: part of the serve extra
    except ImportError:
        pass
    else:
        with contextlib.suppress(Exception):
            setproctitle.setproctitle(title)
    set_comm(short)


def set_comm(name: str) -> bool:
    """Set the kernel's command name (Linux ``prctl(PR_SET_NAME)``); whether it was set."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        encoded = name.encode("utf-8", "replace")[:_COMM_BYTES]
        return bool(libc.prctl(_PR_SET_NAME, ctypes.c_char_p(encoded), 0, 0, 0) == 0)
    return False
