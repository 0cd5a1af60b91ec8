"""Replica processes are recognisable in ``ps``: the command line ``modelyard serve-model
<deployment>/<replica>`` where setproctitle is installed, and the kernel's command name (``comm``,
15 bytes) in any case — checked in /proc of real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/comm").exists(), reason="needs Linux /proc")

TITLE = "modelyard serve-model churn/main-1a2b3c"
SCRIPT = """
import sys, time
{block}
from modelyard.serving.proctitle import set_title
set_title({title!r}, "churn/main-1a2b3c")
print("set", flush=True)
time.sleep(60)
"""


def titled(block: str = "") -> tuple[str, str]:
    """(cmdline, comm) of a process that set its title."""
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(block=block, title=TITLE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "set\n"
        proc = Path(f"/proc/{process.pid}")
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        return cmdline, (proc / "comm").read_text().strip()
    finally:
        process.kill()
        process.communicate()


def test_with_setproctitle_ps_shows_the_replica() -> None:
    pytest.importorskip("setproctitle")
    cmdline, comm = titled()
    assert cmdline == TITLE
    assert comm == "churn/main-1a2b"  # the first 15 bytes


def test_without_setproctitle_the_command_name_still_says_which_replica() -> None:
    cmdline, comm = titled("sys.modules['setproctitle'] = None  # not installed")
    assert comm == "churn/main-1a2b"
    assert cmdline.startswith(sys.executable) and "set_title" in cmdline  # left as it was
