"""CLI benchmark: how long ``modelyard`` takes to answer, next to ``mlflow``, against a live server.

1. Starts a real ``modelyard server`` (temporary data dir, SQLite, authentication on; the admin token
   is read from the config file the server writes) and seeds it over HTTP: 20 runs with params and
   metrics in the Default experiment, and a stopped deployment of a registered model (so that ``deploy
   list`` prints a row; stopped, so no replica runs during the measurement).
2. Runs each command ``--runs`` times (default 10) as a fresh process, in interleaved rounds (every
   command once per round, the order rotating), after one untimed run each that must succeed (and
   writes the bytecode of modelyard's modules, as installing a package does); the commands' output
   goes to /dev/null. Both CLIs talk to the same server (``MODELYARD_URL`` /
   ``MLFLOW_TRACKING_URI``, and their tokens).
3. Prints per command the median, min and max wall time and the median CPU time (user + system: less
   disturbed by other processes on a shared machine), each modelyard command's ratio to its mlflow
   counterpart, and the target (``modelyard --help`` and ``modelyard runs list`` under 0.4 s of wall
   time, median), with the machine's load average. Saves it all as JSON.

    .venv/bin/python bench/cli/bench.py                  # about a minute
    .venv/bin/python bench/cli/bench.py --runs 20 --mlflow-bin .bench-venv/bin/mlflow
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 0.4
TARGETED = ("modelyard --help", "modelyard runs list")
# modelyard command -> the mlflow command it is compared with
COMMANDS = {
    "modelyard --help": ["{modelyard}", "--help"],
    "modelyard runs list": ["{modelyard}", "runs", "list"],
    "modelyard deploy list": ["{modelyard}", "deploy", "list"],
    "mlflow --help": ["{mlflow}", "--help"],
    "mlflow experiments search": ["{mlflow}", "experiments", "search"],
    "mlflow runs list": ["{mlflow}", "runs", "list", "--experiment-id", "0"],
}
COUNTERPART = {
    "modelyard --help": "mlflow --help",
    "modelyard runs list": "mlflow runs list",
    "modelyard deploy list": "mlflow experiments search",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def server(work: Path, modelyard: str) -> Iterator[tuple[str, str]]:
    """A ``modelyard server`` on a free port; yields its URL and the admin's token."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = work / "user-config.json"
    argv = [modelyard, "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(work / "data")]
    env = {**os.environ, "MODELYARD_CONFIG": str(config), "MODELYARD_LOG_LEVEL": "warning"}
    with (work / "server.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{(work / 'server.log').read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200 and config.exists():
                        break
                time.sleep(0.05)
            yield url, json.loads(config.read_text())["servers"][url]["token"]
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def seed(url: str, token: str, work: Path) -> None:
    """20 runs in Default; a registered model and a stopped deployment of it."""
    api = "/api/2.0/mlflow"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for i in range(20):
            run = check(
                http.post(f"{api}/runs/create", json={"experiment_id": "0", "run_name": f"trial-{i}"}), "run"
            )
            run_id = run["run"]["info"]["run_id"]
            batch = {
                "run_id": run_id,
                "params": [{"key": "lr", "value": f"0.{i}"}, {"key": "depth", "value": str(i % 5)}],
                "metrics": [
                    {"key": k, "value": i / (j + 1), "timestamp": 1, "step": 0}
                    for j, k in enumerate(("loss", "auc", "f1"))
                ],
            }
            check(http.post(f"{api}/runs/log-batch", json=batch), "log-batch")
            check(http.post(f"{api}/runs/update", json={"run_id": run_id, "status": "FINISHED"}), "end run")
        model = work / "model"
        model.mkdir()
        (model / "MLmodel").write_text("flavors: {}\n")
        check(http.post(f"{api}/registered-models/create", json={"name": "churn"}), "register model")
        check(
            http.post(f"{api}/model-versions/create", json={"name": "churn", "source": str(model)}), "version"
        )
        spec = {"name": "churn-stg", "stop": True, "predictors": [{"model": "models:/churn/1"}]}
        check(http.post("/deployment/api/", json=spec), "deployment")


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run; the run must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, dict[str, Any]]:
    names = list(commands)
    for name in names:  # untimed: warms the page cache, and proves each command works here
        timed(commands[name], env)
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    for round_ in range(runs):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            wall, cpu = timed(commands[name], env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        n: {
            "wall_median_s": statistics.median(walls[n]),
            "wall_min_s": min(walls[n]),
            "wall_max_s": max(walls[n]),
            "cpu_median_s": statistics.median(cpus[n]),
            "walls_s": walls[n],
        }
        for n in names
    }


def report(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    print(f"\n{'command':<28}{'median':>9}{'min':>8}{'max':>8}{'cpu':>8}   vs mlflow")
    verdicts = []
    for name, r in results.items():
        line = (
            f"{name:<28}{r['wall_median_s']:>8.3f}s{r['wall_min_s']:>7.3f}s{r['wall_max_s']:>7.3f}s"
            f"{r['cpu_median_s']:>7.3f}s"
        )
        other = COUNTERPART.get(name)
        if other in results:
            ratio = results[other]["wall_median_s"] / r["wall_median_s"]
            line += f"   {ratio:.1f}x faster than `{other}` (wall)"
        print(line)
    print()
    for name in TARGETED:
        median = results[name]["wall_median_s"]
        ok = median < TARGET_S
        verdicts.append({"command": name, "median_s": median, "target_s": TARGET_S, "pass": ok})
        print(f"target: {name} median {median:.3f}s < {TARGET_S}s: {'PASS' if ok else 'FAIL'}")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="Timed runs per command (default 10).")
    parser.add_argument("--modelyard-bin", default=str(ROOT / ".venv" / "bin" / "modelyard"))
    parser.add_argument(
        "--mlflow-bin",
        default=str(ROOT / ".venv" / "bin" / "mlflow"),
        help="The mlflow CLI to compare with (default: the one in .venv).",
    )
    parser.add_argument("--json-out", type=Path, help="Where to save the results (default bench/results/).")
    args = parser.parse_args()
    for binary in (args.modelyard_bin, args.mlflow_bin):
        if shutil.which(binary) is None:
            sys.exit(f"{binary}: not found (see --help)")
    loads = [load()]
    print(f"load average before: {loads[0]} ({os.cpu_count()} cores)")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("WARNING: the machine is busy; wall times will be high (compare the ratios and CPU times)")
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-cli-"))
    try:
        with server(work, args.modelyard_bin) as (url, token):
            seed(url, token, work)
            env = {
                **os.environ,
                "MODELYARD_URL": url,
                "MODELYARD_TOKEN": token,
                "MODELYARD_CONFIG": str(work / "user-config.json"),
                "MLFLOW_TRACKING_URI": url,
                "MLFLOW_TRACKING_TOKEN": token,
                "COLUMNS": "120",
            }
            # PYTHONDONTWRITEBYTECODE would make every run compile modelyard's modules from source
            # (a checkout's src/ has no bytecode yet); an installed package's are compiled already
            for name in ("MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "PYTHONDONTWRITEBYTECODE"):
                env.pop(name, None)
            commands = {
                name: [part.format(modelyard=args.modelyard_bin, mlflow=args.mlflow_bin) for part in argv]
                for name, argv in COMMANDS.items()
            }
            results = measure(commands, env, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    loads.append(load())
    verdicts = report(results)
    print(f"load average after: {loads[1]}")
    out = args.json_out or ROOT / "bench" / "results" / f"cli-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": results, "targets": verdicts, "load_average": loads}, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
