"""A real ``modelyard server`` of this checkout for the audit benchmarks: a fresh data dir, a free
loopback port, the first admin's token read from the config file it saves; stopped with SIGTERM (so it
shuts down as a user's Ctrl-C would), SIGKILL if it does not exit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Running:
    url: str
    token: str
    data_dir: Path
    proc: subprocess.Popen[bytes]

    @property
    def database(self) -> Path:
        return self.data_dir / "modelyard.db"

    def stop(self) -> None:
        """SIGTERM and wait: the server finishes its shutdown (and flushes what it aggregates)."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def modelyard_server(tmp: Path, python: str, src: Path | None = None) -> Iterator[Running]:
    """The server of ``src`` (a checkout's ``src`` directory; default this one's)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp / "user-config.json"
    env = {**os.environ, "MODELYARD_CONFIG": str(config), "PYTHONPATH": str(src or ROOT / "src")}
    log_path = tmp / "server.log"
    data_dir = tmp / "data"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [python, "-m", "modelyard", "server", "--port", str(port), "--data-dir", str(data_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    running = None
    try:
        deadline = time.monotonic() + 120
        while running is None:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {log_path.read_text()[-2000:]}")
            if config.exists():
                token = json.loads(config.read_text())["servers"][url]["token"]
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        running = Running(url, token, data_dir, proc)
                        break
            if time.monotonic() > deadline:
                raise SystemExit("server not ready after 120 s")
            time.sleep(0.2)
        yield running
    finally:
        if running is not None:
            running.stop()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
