"""The two servers under test: how mlflow and modelyard are launched, when they are ready, how they stop.

Each Server runs in its own process group in its own temporary directory, so stopping it reaches its
uvicorn/gunicorn workers too. Ready means it answered experiments/get-by-name for "Default"; for
modelyard that takes the admin token it saves on first start (authentication is on by default).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rest_api import API


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerError(RuntimeError):
    pass


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # where the server saves its first admin token (modelyard; authentication is on by default)
    token_file: Path | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float) -> float:
        """Start the server in its own process group; return seconds until it answered."""
        self.log_path = self.workdir / f"{self.name}.log"
        log = self.log_path.open("wb")
        env = {**os.environ, **self.env}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killpg reaches uvicorn/gunicorn workers too
        )
        log.close()
        deadline = t0 + ready_timeout
        last = "no answer yet"
        with httpx.Client(base_url=self.url, timeout=5.0) as c:
            while time.perf_counter() < deadline:
                if self.token_file is not None and not self.headers and self.token_file.exists():
                    saved = json.loads(self.token_file.read_text())
                    self.headers = {"Authorization": f"Bearer {saved['servers'][self.url]['token']}"}
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    raise ServerError(
                        f"{self.name} exited with {code} before it was ready:\n{self.log_tail()}"
                    )
                try:
                    r = c.get(
                        f"{API}/experiments/get-by-name",
                        params={"experiment_name": "Default"},
                        headers=self.headers,
                    )
                    if r.status_code == 200 and r.json().get("experiment", {}).get("name") == "Default":
                        return time.perf_counter() - t0
                    last = f"HTTP {r.status_code}: {r.text[:200]}"
                except (httpx.TransportError, ValueError) as e:
                    last = repr(e)
                time.sleep(0.25)
        raise ServerError(
            f"{self.name} not ready after {ready_timeout:.0f}s (last: {last}):\n{self.log_tail()}"
        )

    def log_tail(self, n: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join("    | " + line for line in lines[-n:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            if proc is not None:
                self._killpg(proc, signal.SIGKILL)  # stray workers of a dead parent
            return
        self._killpg(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._killpg(proc, signal.SIGKILL)
            proc.wait(timeout=10)
        self._killpg(proc, signal.SIGKILL)  # anything left in the group

    @staticmethod
    def _killpg(proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def mlflow_server(tmp: Path, args: argparse.Namespace) -> Server:
    exe = Path(args.mlflow_bin) if args.mlflow_bin else Path(sys.executable).parent / "mlflow"
    port = free_port()
    argv = [
        str(exe),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{tmp / 'mlflow.db'}",
        "--artifacts-destination",
        str(tmp / "art"),
        # the default host check allows localhost and private IPs; name the loopback explicitly
        "--allowed-hosts",
        f"127.0.0.1:{port},localhost:{port},127.0.0.1,localhost",
    ]
    if args.mlflow_workers:
        argv += ["--workers", str(args.mlflow_workers)]
    return Server("mlflow", argv, port, tmp)


def modelyard_server(tmp: Path, args: argparse.Namespace) -> Server:
    exe = Path(args.modelyard_bin)
    port = free_port()
    argv = [str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp)]
    token_file = tmp / "user-config.json"
    # this checkout's code, whichever checkout the virtualenv's editable install points at
    src = str(Path(__file__).resolve().parents[2] / "src")
    pythonpath = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    env = {"MODELYARD_CONFIG": str(token_file), "PYTHONPATH": pythonpath}
    if args.modelyard_log_level:
        env["MODELYARD_LOG_LEVEL"] = args.modelyard_log_level
    return Server("modelyard", argv, port, tmp, env=env, token_file=token_file)
