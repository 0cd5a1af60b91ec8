"""Quick check of the serving hot path: `modelyard serve-model` vs. a bare uvicorn + orjson + predict app.

The full benchmark (bench/serving/bench.py) compares with mlflow and MLServer too; this one answers one
question fast, with nothing but this repository's .venv: how close is one serve-model process to the
practical limit of Python serving, per protocol? It

1. trains the benchmark's model (GradientBoostingClassifier, 100 trees, 20 features, seeded) and saves it
   twice: a joblib file for the bare app and a model directory (tensor signature float64 [-1, 20]);
2. starts both servers (one worker each) on free loopback ports, and measures cold start (launch to the
   first 200 on a prediction) for serve-model and for the bare app, alternately;
3. drives each endpoint in turn with 1-row JSON requests for ``--seconds`` at ``--connections``, with wrk
   when it is installed (2 threads), else with a small asyncio keep-alive client, for ``--rounds``
   interleaved rounds, each with freshly started servers (so a busy machine, and the luck of one
   process, hurt every target alike), and prints medians and ratios of
   requests/s, server CPU per request and p99 latency;
4. with ``--batch``, does the same at 64 connections for the bare app, serve-model, and serve-model
   with batching (``--batch-wait-ms``).

    .venv/bin/python bench/serving/quick_compare.py                  # about a minute
    .venv/bin/python bench/serving/quick_compare.py --rounds 5 --seconds 10 --batch
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

BARE_APP = """
import os

import joblib
import numpy as np
import orjson

MODEL = joblib.load(os.environ["BARE_MODEL_PATH"])
HEADERS = [(b"content-type", b"application/json")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/predict":
        X = np.asarray(orjson.loads(body)["inputs"], dtype=np.float64)
        payload = orjson.dumps({"predictions": MODEL.predict(X)}, option=orjson.OPT_SERIALIZE_NUMPY)
    else:
        payload = b"{}"
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": payload})
"""


@dataclass(frozen=True)
class Sample:
    rate: float  # requests/s
    cpu: float  # server CPU microseconds per request
    p99: float  # milliseconds


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    body: bytes
    pid: int  # the server process, whose CPU time per request is measured too


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(work: Path) -> tuple[Path, Path, list[float]]:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    from modelyard.models import save_model

    x, y = make_classification(n_samples=2000, n_features=20, n_informative=10, n_redundant=4, random_state=0)
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(x, y)
    joblib.dump(model, work / "model.joblib")
    save_model(model, work / "model", input_example=x[:1])
    return work / "model.joblib", work / "model", x[7].tolist()


@contextlib.contextmanager
def process(argv: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(url: str, body: bytes, timeout: float = 60.0) -> float:
    """Seconds until ``url`` answers 200 to ``body``."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        with contextlib.suppress(httpx.HTTPError):
            if (
                httpx.post(
                    url, content=body, headers={"content-type": "application/json"}, timeout=2
                ).status_code
                == 200
            ):
                return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def bare_app_argv(port: int) -> list[str]:
    return [
        PYTHON,
        "-m",
        "uvicorn",
        "bare_app:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def serve_model_argv(model_dir: Path, port: int, extra: list[str]) -> list[str]:
    return [
        PYTHON,
        "-m",
        "modelyard.cli.serve_model",
        "--model-uri",
        str(model_dir),
        "--port",
        str(port),
        *extra,
    ]


# -- load generators ---------------------------------------------------------------------------------------


def run_wrk(target: Target, *, seconds: int, connections: int, work: Path) -> tuple[float, float]:
    """(requests/s, p99 latency in ms)."""
    body = work / f"{target.name}.json"
    body.write_bytes(target.body)
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("NON2XX %d\\n", summary.errors.status))\nend\n'
    )
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            target.url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if int(re.search(r"NON2XX (\d+)", out).group(1)):  # type: ignore[union-attr]
        raise RuntimeError(f"{target.name}: non-2xx answers during the run:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return rate, float(p99) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


async def _python_load(target: Target, seconds: int, connections: int) -> tuple[float, float]:
    host, port, path = re.match(r"http://([^:/]+):(\d+)(/.*)", target.url).groups()  # type: ignore[union-attr]
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(target.body)}\r\n\r\n"
    ).encode() + target.body
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (sent := time.perf_counter()) < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{target.name}: {head[:40]!r}")
            length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - sent)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    p99 = statistics.quantiles(latencies, n=100)[98] * 1e3 if len(latencies) > 1 else math.nan
    return len(latencies) / (time.perf_counter() - started), p99


def measure(target: Target, *, seconds: int, connections: int, work: Path) -> Sample:
    """Requests/s, server CPU microseconds per request and p99 latency. The CPU per request barely
    depends on what else the machine is doing, so it is the steadier comparison on a busy machine."""
    cpu = cpu_seconds(target.pid)
    if shutil.which("wrk"):
        rate, p99 = run_wrk(target, seconds=seconds, connections=connections, work=work)
    else:
        rate, p99 = asyncio.run(_python_load(target, seconds, connections))
    return Sample(rate, (cpu_seconds(target.pid) - cpu) / (rate * seconds) * 1e6, p99)


# -- main ----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=5, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--batch",
        action="store_true",
        help="also measure at 64 connections: the bare app, serve-model, and serve-model with batching",
    )
    parser.add_argument(
        "--batch-wait-ms", type=float, default=2.0, help="--max-batch-wait-ms of the batched server"
    )
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument(
        "--serve-arg", action="append", default=[], help="extra serve-model argument (repeatable)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="quick-compare-") as tmp:
        work = Path(tmp)
        joblib_path, model_dir, row = train(work)
        (work / "bare_app.py").write_text(textwrap.dedent(BARE_APP))
        bodies = {
            "mlflow": json.dumps({"inputs": [row]}).encode(),
            "v2": json.dumps(
                {"inputs": [{"name": "x", "shape": [1, 20], "datatype": "FP64", "data": row}]}
            ).encode(),
            "seldon": json.dumps({"data": {"ndarray": [row]}}).encode(),
        }

        bare_port, my_port = free_port(), free_port()
        bare_env = {"BARE_MODEL_PATH": str(joblib_path), "PYTHONPATH": str(work)}

        # Cold starts, alternating: the bare app's says what importing scikit-learn and unpickling
        # the model cost on this machine, which serve-model cannot go below.
        cold: list[float] = []
        bare_cold: list[float] = []
        for _ in range(args.cold_runs):
            port = free_port()
            with process(serve_model_argv(model_dir, port, args.serve_arg)):
                cold.append(wait_for(f"http://127.0.0.1:{port}/invocations", bodies["mlflow"]))
            port = free_port()
            with process(bare_app_argv(port), bare_env):
                bare_cold.append(wait_for(f"http://127.0.0.1:{port}/predict", bodies["mlflow"]))
        # Fresh processes every round: two processes running the same code on this kind of machine
        # differ by up to 20% in CPU per request (memory layout, which core), so one pair would
        # decide the ratio by luck.
        results: dict[str, list[Sample]] = {}
        for r in range(args.rounds):
            with (
                process(bare_app_argv(bare_port), bare_env) as bare_proc,
                process(serve_model_argv(model_dir, my_port, args.serve_arg)) as my_proc,
            ):
                targets = [
                    Target("bare", f"http://127.0.0.1:{bare_port}/predict", bodies["mlflow"], bare_proc.pid),
                    Target(
                        "mlflow", f"http://127.0.0.1:{my_port}/invocations", bodies["mlflow"], my_proc.pid
                    ),
                    Target(
                        "v2", f"http://127.0.0.1:{my_port}/v2/models/model/infer", bodies["v2"], my_proc.pid
                    ),
                    Target(
                        "seldon",
                        f"http://127.0.0.1:{my_port}/api/v1.0/predictions",
                        bodies["seldon"],
                        my_proc.pid,
                    ),
                ]
                for target in targets:
                    wait_for(target.url, target.body)
                    measure(target, seconds=1, connections=args.connections, work=work)  # warm up
                for target in targets[r % len(targets) :] + targets[: r % len(targets)]:  # rotate the order
                    results.setdefault(target.name, []).append(
                        measure(target, seconds=args.seconds, connections=args.connections, work=work)
                    )

        at64: dict[str, list[Sample]] = {}
        if args.batch:
            batch_port, plain_port, bare_port = free_port(), free_port(), free_port()
            batch_argv = serve_model_argv(
                model_dir,
                batch_port,
                ["--max-batch-size", "64", "--max-batch-wait-ms", str(args.batch_wait_ms), *args.serve_arg],
            )
            with (
                process(batch_argv) as batch_proc,
                process(serve_model_argv(model_dir, plain_port, args.serve_arg)) as plain_proc,
                process(bare_app_argv(bare_port), bare_env) as bare_proc,
            ):
                targets = [
                    Target("bare", f"http://127.0.0.1:{bare_port}/predict", bodies["mlflow"], bare_proc.pid),
                    Target(
                        "mlflow",
                        f"http://127.0.0.1:{plain_port}/invocations",
                        bodies["mlflow"],
                        plain_proc.pid,
                    ),
                    Target(
                        "batched",
                        f"http://127.0.0.1:{batch_port}/invocations",
                        bodies["mlflow"],
                        batch_proc.pid,
                    ),
                ]
                at64 = {t.name: [] for t in targets}
                for target in targets:
                    wait_for(target.url, target.body)
                    measure(target, seconds=1, connections=64, work=work)  # warm up
                for r in range(args.rounds):
                    for target in targets[r % len(targets) :] + targets[: r % len(targets)]:
                        at64[target.name].append(
                            measure(target, seconds=args.seconds, connections=64, work=work)
                        )

    report(args, results, at64, cold, bare_cold)


def report(
    args: argparse.Namespace,
    results: dict[str, list[Sample]],
    at64: dict[str, list[Sample]],
    cold: list[float],
    bare_cold: list[float],
) -> None:
    tool = "wrk -t2" if shutil.which("wrk") else "asyncio client"
    print(
        f"\n1-row requests, GradientBoostingClassifier (100 trees x 20 features), {args.connections} connections, "
        f"{tool}, {args.rounds} rounds of {args.seconds} s"
    )
    print(
        f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores\n"
    )
    _table(results)
    print(
        "(bare/this: the bare app's server CPU per request over this one's, the single-core throughput ratio)"
    )
    if at64:
        print(f"\n64 connections (batched: --max-batch-size 64 --max-batch-wait-ms {args.batch_wait_ms:g})")
        _table(at64)
    print(
        f"\ncold start (launch to first 200, python -m modelyard.cli.serve_model): median {statistics.median(cold):.2f} s "
        f"({', '.join(f'{c:.2f}' for c in cold)}); the bare app: median {statistics.median(bare_cold):.2f} s "
        f"({', '.join(f'{c:.2f}' for c in bare_cold)})"
    )


def _table(results: dict[str, list[Sample]]) -> None:
    rate0 = statistics.median(s.rate for s in results["bare"])
    cpu0 = statistics.median(s.cpu for s in results["bare"])
    p0 = statistics.median(s.p99 for s in results["bare"])
    print(
        f"{'target':<28}{'req/s':>8}{'vs bare':>9}{'server CPU/req':>16}{'bare/this':>11}"
        f"{'p99 ms':>8}{'vs bare':>9}   req/s per round"
    )
    for name, values in results.items():
        label = "bare uvicorn+orjson+predict" if name == "bare" else f"serve-model {name}"
        rate = statistics.median(s.rate for s in values)
        cpu = statistics.median(s.cpu for s in values)
        p99 = statistics.median(s.p99 for s in values)
        rounds = ", ".join(f"{s.rate:,.0f}" for s in values)
        print(
            f"{label:<28}{rate:>8,.0f}{rate / rate0:>9.0%}{cpu:>13,.0f} us{cpu0 / cpu:>11.0%}"
            f"{p99:>8.1f}{p99 / p0:>9.0%}   {rounds}"
        )


if __name__ == "__main__":
    main()
