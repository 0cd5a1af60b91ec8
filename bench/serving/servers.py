"""Starting and stopping the servers under test, and the plain HTTP they are reached with.

Owns the paths of the bench environments, the server names (SERVER_ORDER) and their protocols' routes,
how each server is launched (ServerSpec, make_server), and the process lifecycle: every server runs in its
own process group so that stopping it (or stop_all when the bench exits) reaches its workers too. Running
is one started server, ready once it answered a predict request with a 200.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from payloads import Model, body_for

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BENCH_VENV = Path(os.environ.get("BENCH_VENV", ROOT / ".bench-venv"))
SERVING_VENV = Path(os.environ.get("BENCH_SERVING_VENV", BENCH_VENV / "serving"))

PROTO_PATHS = {
    "mlflow": "/invocations",
    "mlflow-split": "/invocations",
    "v2": "/v2/models/{model}/infer",
    "seldon": "/api/v1.0/predictions",
    "bare": "/predict",
}
SERVER_ORDER = ["mlflow", "mlserver", "bare-1w", "bare-2w", "modelyard", "modelyard-batch"]

# ------------------------------------------------------------------------------------------ lifecycle

_LIVE: set[subprocess.Popen[bytes]] = set()


def _killpg(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL whatever is left of it."""
    if proc.poll() is None:
        _killpg(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _killpg(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
    _killpg(proc, signal.SIGKILL)  # stray workers (uvicorn/mlserver children) of a finished parent
    _LIVE.discard(proc)


def stop_all() -> None:
    for proc in list(_LIVE):
        stop_process(proc, grace=3.0)


def spawn(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killpg reaches every worker
        )
    _LIVE.add(proc)
    return proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, n: int = 25) -> str:
    if not path.exists():
        return ""
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join("    | " + line for line in lines[-n:])


def post(url: str, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ---------------------------------------------------------------------------------------------- servers


@dataclass
class ServerSpec:
    name: str
    protocols: list[str]
    argv: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def make_server(name: str, model: Model, args: argparse.Namespace) -> ServerSpec:
    port = free_port()
    if name == "mlflow":
        bin_dir = BENCH_VENV / "bin"
        argv = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(model.mlflow_dir)]
        argv += ["--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"]
        env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}  # its uvicorn child from the same venv
        return ServerSpec(name, ["mlflow", "mlflow-split"], argv, port, env)
    if name == "mlserver":
        bin_dir = SERVING_VENV / "bin"
        env = {
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
            "MLSERVER_HOST": "127.0.0.1",
            "MLSERVER_HTTP_PORT": str(port),
            "MLSERVER_GRPC_PORT": str(free_port()),
            "MLSERVER_METRICS_PORT": str(free_port()),
        }
        return ServerSpec(
            name, ["v2"], [str(bin_dir / "mlserver"), "start", str(model.mlserver_dir)], port, env
        )
    if name in ("bare-1w", "bare-2w"):
        workers = "2" if name == "bare-2w" else "1"
        argv = [str(SERVING_VENV / "bin" / "python"), "-m", "uvicorn", "bare_app:app", "--app-dir", str(HERE)]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", workers]
        argv += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
        return ServerSpec(name, ["bare"], argv, port, {"BARE_MODEL_PATH": str(model.joblib_path)})
    if name in ("modelyard", "modelyard-batch"):
        argv = [args.modelyard_bin, "serve-model", "--model-uri", str(model.mlflow_dir), "--port", str(port)]
        argv += ["--model-name", model.name]  # the V2 route name (same as MLServer's)
        if name == "modelyard-batch":
            argv += [
                "--max-batch-size",
                str(args.max_batch_size),
                "--max-batch-wait-ms",
                str(args.max_batch_wait_ms),
            ]
        argv += args.modelyard_arg
        protos = [p for p in args.modelyard_protocols.split(",") if p]
        return ServerSpec(name, protos, argv, port)
    raise ValueError(name)


def proto_url(spec: ServerSpec, proto: str, model: Model) -> str:
    return spec.url + PROTO_PATHS[proto].format(model=model.name)


class Running:
    """A started server: launch, wait for the first 200 on a predict request, stop."""

    def __init__(self, spec: ServerSpec, model: Model, tmp: Path, tag: str) -> None:
        self.spec = spec
        self.model = model
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{spec.name}-", dir=tmp))
        self.log = tmp / f"{spec.name}-{model.name}-{tag}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float) -> float:
        proto = self.spec.protocols[0]
        url = proto_url(self.spec, proto, self.model)
        body = body_for(proto, self.model.rows["1"])
        t0 = time.perf_counter()
        self.proc = spawn(self.spec.argv, cwd=self.workdir, env=self.spec.env, log=self.log)
        last = "no answer yet"
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"exited with {self.proc.returncode} before its first 200:\n{log_tail(self.log)}"
                )
            try:
                code, out = post(url, body, timeout=5.0)
                if code == 200:
                    return time.perf_counter() - t0
                last = f"HTTP {code}: {out[:200]!r}"
            except (OSError, urllib.error.URLError) as e:
                last = repr(e)
            time.sleep(0.02)
        raise RuntimeError(f"no 200 within {timeout:.0f}s (last: {last}):\n{log_tail(self.log)}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def modelyard_available(exe: str) -> tuple[bool, str]:
    try:
        p = subprocess.run(
            [exe, "serve-model", "--help"], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, repr(e)
    if p.returncode != 0:
        return False, (p.stdout + p.stderr).strip().splitlines()[-3:].__str__()
    return True, ""
