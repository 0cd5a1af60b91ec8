"""Helpers for tests that run ``modelyard server`` as a real process (and the gateway process and
replicas it leaves behind): start, kill, signal and restart it on one data dir, read what it
printed, and keep prediction requests flowing from client threads while that happens."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from modelyard.client import Client
from modelyard.models import log_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def processes_under(root: Path) -> set[int]:
    """Processes whose command line names a path under ``root``: the servers, gateways and replicas
    of one test's data dir."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if str(root).encode() in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def wait_for(condition: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class ServerProcess:
    """`modelyard server` in its own process on a data dir that outlives it; each start has its own
    output file."""

    def __init__(self, data_dir: Path, database_url: str, env: dict[str, str]) -> None:
        self.data_dir, self.database_url, self.env = data_dir, database_url, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"server-{self.starts}.log"

    def output(self) -> str:
        return self.log.read_text()

    def launch(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.starts += 1
        cmd = [sys.executable, "-m", "modelyard.cli.entry", "server", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir), "--backend-store-uri", self.database_url, *args]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
            )
        return self.proc

    def start(self, *args: str, env: dict[str, str] | None = None) -> None:
        """Start and wait until the API answers through the gateway."""
        proc = self.launch(*args, env=env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(self.output()[-3000:])
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 90) -> int:
        """Send ``sig`` and wait for the server to exit; its exit code."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def gateway(self) -> dict[str, Any]:
        """The gateway's state file (pid, start time, address, fingerprint)."""
        path = self.data_dir / "gateway" / str(self.port) / "state.json"
        data: dict[str, Any] = json.loads(path.read_text())
        return data


def cleanup(root: Path, *servers: ServerProcess) -> None:
    """Whatever a test left running under ``root``: servers first, then gateways and replicas."""
    for server in servers:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(10)
    for pid in processes_under(root):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def register(client: Client, model: Any, name: str) -> int:
    with client.start_run(experiment_name="e2e") as run:
        log_model(model, "model", run=run)
    return int(client.registry.register_from_run(run.run_id, name)["version"])


class Load:
    """Prediction requests in a loop from two threads, one on a kept-alive connection and one on a
    new connection per request, until ``stop``; every answer that is not a 200 (or an error) is a
    failure, and the time of every success is kept."""

    def __init__(self, url: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
        self.url, self.body, self.expected = url, body, expected
        self.failures: list[str] = []  # "<seconds since the start> <what happened>"
        self.successes: list[float] = []
        self.began = time.monotonic()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._keep_alive, daemon=True),
            threading.Thread(target=self._new_connections, daemon=True),
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        wait_for(lambda: len(self.successes) >= 5, what="the first predictions")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(30)

    def answered_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(1 for t in self.successes if start <= t <= end)

    def _record(self, call: Any) -> None:
        try:
            response = call()
        except httpx.HTTPError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200 and response.json() == self.expected:
                with self._lock:
                    self.successes.append(time.monotonic())
                return
            outcome = f"{response.status_code} {response.text[:300]}"
        with self._lock:
            self.failures.append(f"{time.monotonic() - self.began:.2f}s {outcome}")

    def _keep_alive(self) -> None:
        with httpx.Client(timeout=20) as http:
            while not self._done.is_set():
                self._record(lambda: http.post(self.url, json=self.body))

    def _new_connections(self) -> None:
        while not self._done.is_set():
            self._record(lambda: httpx.post(self.url, json=self.body, timeout=20))


def gateway_pids(root: Path) -> Iterator[int]:
    for pid in processes_under(root):
        try:
            if b"modelyard.api.gateway.process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                yield pid
        except OSError:
            continue
