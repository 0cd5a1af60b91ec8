"""Run ``modelyard`` as a person does: in its own process, on a pseudo-terminal (what the CLI does on a
terminal differs: live progress, questions before deleting)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def run_on_terminal(
    *args: str, answers: dict[str, str] | None = None, timeout: float = 180.0
) -> tuple[int, str, str]:
    """``python -m modelyard ARGS`` with stdin, stdout and stderr on one pseudo-terminal, 200 columns
    wide; when the output shows a prompt that is a key of ``answers``, its answer is typed (once).
    Returns the exit status, the output as shown (escape codes removed) and the raw output."""
    pending = dict(answers or {})
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", *args], stdin=child, stdout=child, stderr=child, close_fds=True
    )
    os.close(child)
    raw = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the terminal's other end closed: the process is done
                    break
                if not chunk:
                    break
                raw += chunk
            shown = ANSI.sub("", raw.decode(errors="replace"))
            for prompt in [p for p in pending if p in shown]:
                os.write(main, pending.pop(prompt).encode() + b"\n")
            if not ready and process.poll() is not None:
                break
        else:
            process.kill()
            raise AssertionError(f"modelyard {' '.join(args)} did not end in {timeout}s: {raw[-2000:]!r}")
        code = process.wait(timeout=30)
    finally:
        os.close(main)
    text = raw.decode(errors="replace")
    return code, ANSI.sub("", text), text
