"""Serving benchmark: modelyard serve-model vs. mlflow models serve, MLServer and a bare uvicorn app.

All servers run in the same invocation, one at a time (never two at once: the machine has 2 cores), with the
same models and the same request rows. Each is started on free loopback ports in its own temp dir and its
whole process group is killed when it is done (or when this script exits, is interrupted or is terminated).

Servers and the protocols measured on each:
  mlflow        `mlflow models serve -m <dir> --env-manager local` (1 uvicorn worker, its default)  /invocations
  mlserver      `mlserver start <dir>` (mlserver-sklearn runtime, default settings)               V2 infer
  bare-1w       bench/serving/bare_app.py on uvicorn, 1 worker: orjson + model.predict         /predict
  bare-2w       the same with 2 workers
  modelyard     `modelyard serve-model --model-uri <dir>`                        /invocations, V2, Seldon v1
                from .bench-venv/modelyard (this checkout as `pip install modelyard[sklearn]`), the
                environment a user's replica runs in, not the test environment (--modelyard-bin)
  modelyard-batch  the same with --max-batch-size/--max-batch-wait-ms (only at 64 connections, 1-row)

Per model (gbc: GradientBoostingClassifier 100 trees x 20 features; iris: LogisticRegression) and per body
(1 row, 100 rows): every response is checked once against the model's local predictions (1-row bodies also
as 100 concurrent requests, each answer matched to its row), then wrk (2
threads, Lua script with the POST body) measures throughput at 8 connections, and p50/p99 latency at 1, 8
and 64 connections for the gbc 1-row body (all bodies with --latency-all). Cold start is process launch to
the first 200 on a predict request (median of --cold-runs launches, gbc).

Then, for gbc, the 1-row cells at 8 connections of bare-1w, MLServer and modelyard run again in
--rounds interleaved rounds, with fresh processes every round: a single run on a 2-core machine varies
by 10-20%, so the throughput targets for 1-row bodies use the medians of those rounds (the other cells,
and mlflow, one run each).

Run it through bench/serving/run.sh, which creates the environments first (setup.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

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
BASELINE_BARE = "bare-1w"  # the "practical limit" the targets refer to

# mlflow / MLServer / bare numbers measured on this machine when the targets were set (issue 5)
ISSUE_BASELINES = {
    "mlflow": "~76 req/s, cold 13 s",
    "mlserver": "~414 req/s, cold 5.4 s",
    "bare-1w": "~875 req/s",
    "bare-2w": "~1,860 req/s",
}

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


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers and remove dirs


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


# --------------------------------------------------------------------------------------- model + bodies


@dataclass
class Model:
    name: str
    dir: Path
    n_features: int
    n_classes: int
    rows: dict[str, list[list[float]]]
    expected: dict[str, list[Any]]

    @property
    def mlflow_dir(self) -> Path:
        return self.dir / "mlflow"

    @property
    def mlserver_dir(self) -> Path:
        return self.dir / "mlserver"

    @property
    def joblib_path(self) -> Path:
        return self.dir / "mlserver" / self.name / "model.joblib"


def load_models(models_dir: Path, names: list[str]) -> list[Model]:
    out = []
    for name in names:
        d = models_dir / name
        spec = json.loads((d / "requests.json").read_text())
        out.append(Model(name, d, spec["n_features"], spec["n_classes"], spec["rows"], spec["expected"]))
    return out


def body_for(proto: str, rows: list[list[float]]) -> bytes:
    if proto in ("mlflow", "bare"):
        # the model's signature is a float64 tensor (-1, F): `inputs` is MLflow's tensor input form
        doc: Any = {"inputs": rows}
    elif proto == "mlflow-split":
        # what pandas' df.to_dict(orient="split") gives, the other common /invocations form
        doc = {"dataframe_split": {"columns": [f"f{i}" for i in range(len(rows[0]))], "data": rows}}
    elif proto == "v2":
        doc = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [len(rows), len(rows[0])],
                    "datatype": "FP64",
                    "data": [v for row in rows for v in row],
                }
            ]
        }
    elif proto == "seldon":
        doc = {"data": {"ndarray": rows}}
    else:
        raise ValueError(proto)
    return json.dumps(doc).encode()


def _flatten(x: Any) -> list[Any]:
    if isinstance(x, list):
        return [v for item in x for v in _flatten(item)]
    return [x]


def _reshape(flat: list[Any], shape: list[int]) -> Any:
    if len(shape) <= 1:
        return flat
    step = len(flat) // shape[0]
    return [_reshape(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def extract_predictions(proto: str, payload: Any) -> Any:
    if proto in ("mlflow", "mlflow-split", "bare"):
        return payload["predictions"]
    if proto == "v2":
        outs = payload["outputs"]
        out = next((o for o in outs if o.get("name") == "predict"), outs[0])
        data = out["data"]
        return _reshape(_flatten(data), list(out.get("shape") or [len(_flatten(data))]))
    if proto == "seldon":
        data = payload["data"]
        if "ndarray" in data:
            return data["ndarray"]
        t = data["tensor"]
        return _reshape(list(t["values"]), list(t["shape"]))
    raise ValueError(proto)


def check_predictions(got: Any, expected: list[Any], n_classes: int) -> tuple[bool, str]:
    """Labels must equal the local predictions; class probabilities are accepted (argmax compared)."""
    note = ""
    if isinstance(got, dict):  # e.g. {"predict": [...]} style outputs
        got = next(iter(got.values()))
    if (
        isinstance(got, list)
        and got
        and all(isinstance(r, list) for r in got)
        and all(len(r) == n_classes for r in got)
        and n_classes > 1
    ):
        got = [max(range(n_classes), key=r.__getitem__) for r in got]
        note = " (probabilities; argmax compared)"
    flat = _flatten(got)
    if len(flat) != len(expected):
        return False, f"{len(flat)} predictions, expected {len(expected)}"
    try:
        bad = sum(1 for a, b in zip(flat, expected, strict=True) if float(a) != float(b))
    except (TypeError, ValueError):
        bad = sum(1 for a, b in zip(flat, expected, strict=True) if str(a) != str(b))
    if bad:
        return False, f"{bad}/{len(expected)} predictions differ from the local model{note}"
    return True, "ok" + note


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


# -------------------------------------------------------------------------------------------------- wrk

LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("{body}", "rb"))
wrk.body = f:read("*a")
f:close()

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {{\\"requests\\":%d,\\"duration_us\\":%d,\\"bytes\\":%d,\\"connect\\":%d,\\"read\\":%d," ..
    "\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"mean_us\\":%.1f,\\"max_us\\":%d," ..
    "\\"p50_us\\":%d,\\"p90_us\\":%d,\\"p99_us\\":%d}}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


def write_lua(tmp: Path, body: bytes) -> Path:
    n = len(list(tmp.glob("body-*.json")))
    body_path = tmp / f"body-{n}.json"
    body_path.write_bytes(body)
    script = tmp / f"body-{n}.lua"
    script.write_text(LUA.format(body=str(body_path)))
    return script


def run_wrk(url: str, script: Path, conns: int, duration: float) -> dict[str, Any]:
    threads = min(2, conns)  # wrk needs connections >= threads
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, round(duration))}s", "--latency"]
    argv += ["--timeout", "30s", "-s", str(script), url]
    load_before = os.getloadavg()[0]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=duration + 90)
    m = re.search(r"^WRKJSON (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}")
    r = json.loads(m.group(1))
    secs = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return {
        "connections": conns,
        "threads": threads,
        "duration_s": round(secs, 2),
        "requests": r["requests"],
        "rps": round(r["requests"] / secs, 1) if secs else 0.0,
        "p50_ms": round(r["p50_us"] / 1000, 2),
        "p90_ms": round(r["p90_us"] / 1000, 2),
        "p99_ms": round(r["p99_us"] / 1000, 2),
        "mean_ms": round(r["mean_us"] / 1000, 2),
        "max_ms": round(r["max_us"] / 1000, 2),
        "errors": errors,
        "non_2xx": r["status"],
        "timeouts": r["timeout"],
        "loadavg_1m_before": round(load_before, 2),
    }


# ------------------------------------------------------------------------------------------------ bench


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


def concurrent_check(url: str, proto: str, model: Model, threads: int = 16) -> tuple[bool, str]:
    """Each row of the 100-row set as its own 1-row request, 16 at a time: every answer must be its row's.

    This is what catches a batching server that merges concurrent requests but splits the results back
    wrongly (wrk only counts status codes).
    """
    from concurrent.futures import ThreadPoolExecutor

    rows, expected = model.rows["100"], model.expected["100"]

    def one(i: int) -> str | None:
        code, out = post(url, body_for(proto, [rows[i]]))
        if code != 200:
            return f"row {i}: HTTP {code}"
        ok, detail = check_predictions(
            extract_predictions(proto, json.loads(out)), [expected[i]], model.n_classes
        )
        return None if ok else f"row {i}: {detail}"

    with ThreadPoolExecutor(threads) as pool:
        problems = [p for p in pool.map(one, range(len(rows))) if p]
    if problems:
        return False, f"{len(problems)}/{len(rows)} wrong, first: {problems[0]}"
    return True, f"{len(rows)} concurrent 1-row requests ok"


def measure_server(  # noqa: PLR0912
    name: str, model: Model, args: argparse.Namespace, tmp: Path, results: dict[str, Any]
) -> None:
    spec = make_server(name, model, args)
    entry: dict[str, Any] = {"server": name, "model": model.name, "argv": spec.argv, "runs": [], "checks": []}
    results["servers"].append(entry)
    is_batch = name == "modelyard-batch"
    srv = Running(spec, model, tmp, "main")
    try:
        try:
            entry["startup_s"] = round(srv.start(args.ready_timeout), 3)
        except RuntimeError as e:
            entry["error"] = f"start failed: {e}"
            print(f"  !! {name}/{model.name}: {entry['error']}", flush=True)
            return
        if model.name == args.cold_model and not is_batch:
            results["cold_start"].setdefault(name, []).append(entry["startup_s"])
        print(f"  {name}/{model.name}: first 200 after {entry['startup_s']:.2f}s", flush=True)
        for proto in spec.protocols:
            batches = ["1"] if is_batch else args.batch_sizes
            for rows in batches:
                url = proto_url(spec, proto, model)
                body = body_for(proto, model.rows[rows])
                # correctness, once per response kind, before any timing
                check: dict[str, Any] = {"protocol": proto, "rows": int(rows)}
                entry["checks"].append(check)
                try:
                    code, out = post(url, body)
                    if code != 200:
                        check.update(ok=False, detail=f"HTTP {code}: {out[:300].decode(errors='replace')}")
                    else:
                        got = extract_predictions(proto, json.loads(out))
                        ok, detail = check_predictions(got, model.expected[rows], model.n_classes)
                        check.update(ok=ok, detail=detail)
                except Exception as e:
                    check.update(ok=False, detail=f"{type(e).__name__}: {e}")
                if check["ok"] and rows == "1":
                    ok, detail = concurrent_check(url, proto, model)
                    check.update(ok=ok, concurrent=detail)
                    if not ok:
                        check["detail"] = f"concurrent: {detail}"
                if not check["ok"]:
                    print(
                        f"  !! {name}/{proto}/{model.name}/{rows}-row: check failed: {check['detail']}",
                        flush=True,
                    )
                    if check["detail"].startswith(("HTTP", "KeyError", "JSONDecodeError", "Type")):
                        continue  # an error response would be timed as an error rate: skip
                script = write_lua(tmp, body)
                latency = args.latency_all or (model.name == "gbc" and rows == "1")
                conc = [64] if is_batch else (args.concurrency if latency else [8])
                try:
                    run_wrk(url, script, 8 if not is_batch else 64, args.warmup)  # untimed warm-up
                    for c in conc:
                        r = run_wrk(url, script, c, args.duration)
                        r.update(protocol=proto, rows=int(rows), checked=check["ok"])
                        entry["runs"].append(r)
                        flag = f"  ERRORS {r['errors']}" if r["errors"] else ""
                        print(
                            f"  {name:15} {proto:12} {model.name:5} {rows:>3}-row c={c:<3} "
                            f"{r['rps']:9.1f} req/s  p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms"
                            f"  load {r['loadavg_1m_before']:.2f}{flag}",
                            flush=True,
                        )
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    entry.setdefault("wrk_errors", []).append(f"{proto}/{rows}: {e}")
                    print(f"  !! {name}/{proto}/{model.name}/{rows}-row: {e}", flush=True)
    finally:
        srv.stop()
        entry["log_tail"] = log_tail(srv.log, 15) if entry.get("error") or entry.get("wrk_errors") else ""


def interleaved_rounds(
    model: Model, servers: list[str], args: argparse.Namespace, tmp: Path, results: dict[str, Any]
) -> None:
    """The targets' throughput cells (1-row bodies, 8 connections) again, in rounds. One 15 s run on a
    2-core machine varies by 10-20%, and two processes of one server differ by as much, so each round
    starts the bare app, MLServer and modelyard afresh (all three wait, idle, while another is
    measured) and runs every body once, in an order that rotates; the targets use the medians."""
    names = [n for n in ("bare-1w", "mlserver", "modelyard") if n in servers]
    samples: list[dict[str, Any]] = results.setdefault("rounds", [])
    scripts: dict[str, Path] = {}  # one Lua script per protocol's body, for every round
    for r in range(args.rounds):
        running = [Running(make_server(n, model, args), model, tmp, f"round{r}") for n in names]
        try:
            cells = []
            for srv in running:
                srv.start(args.ready_timeout)
                for proto in srv.spec.protocols:
                    url = proto_url(srv.spec, proto, model)
                    if proto not in scripts:
                        scripts[proto] = write_lua(tmp, body_for(proto, model.rows["1"]))
                    script = scripts[proto]
                    run_wrk(url, script, 8, args.warmup)  # untimed warm-up
                    cells.append((srv.spec.name, proto, url, script))
            k = r % len(cells)
            for name, proto, url, script in cells[k:] + cells[:k]:
                run = run_wrk(url, script, 8, args.duration)
                samples.append({"server": name, "model": model.name, "protocol": proto, "round": r, **run})
                print(
                    f"  round {r + 1}/{args.rounds} {name:15} {proto:12} {run['rps']:9.1f} req/s"
                    f"  p99 {run['p99_ms']:8.2f} ms  load {run['loadavg_1m_before']:.2f}",
                    flush=True,
                )
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            results.setdefault("round_errors", []).append(str(e)[:500])
            print(f"  !! round {r + 1}: {str(e)[:300]}", flush=True)
        finally:
            for srv in running:
                srv.stop()


def c8_rps(
    results: dict[str, Any], server: str, model: str, proto: str | None, rows: int
) -> tuple[float | None, str]:
    """Requests/s at 8 connections: the median of the interleaved rounds where there are some (1-row
    bodies), else the one run of the main pass."""
    if rows == 1:
        got = [
            s["rps"]
            for s in results.get("rounds", [])
            if s["server"] == server and s["model"] == model and (proto is None or s["protocol"] == proto)
        ]
        if got:
            return statistics.median(got), f"median of {len(got)} rounds"
    r = find(results, server, model, proto, rows, 8)
    return (r["rps"] if r else None), "one run"


def cold_starts(
    name: str, model: Model, args: argparse.Namespace, tmp: Path, results: dict[str, Any]
) -> None:
    samples = results["cold_start"].setdefault(name, [])
    i = 0
    while len(samples) < args.cold_runs and i < args.cold_runs + 2:
        i += 1
        srv = Running(make_server(name, model, args), model, tmp, f"cold{i}")
        try:
            samples.append(round(srv.start(args.ready_timeout), 3))
        except RuntimeError as e:
            results.setdefault("cold_start_errors", {}).setdefault(name, []).append(str(e)[:500])
            print(f"  !! cold start {name}: {str(e)[:300]}", flush=True)
            if len(results["cold_start_errors"][name]) >= 2:
                return
        finally:
            srv.stop()
        time.sleep(0.5)


# --------------------------------------------------------------------------------------------- report


def find(results: dict[str, Any], server: str, model: str, proto: str | None, rows: int, conns: int) -> Any:
    for e in results["servers"]:
        if e["server"] != server or e["model"] != model:
            continue
        for r in e["runs"]:
            if (proto is None or r["protocol"] == proto) and r["rows"] == rows and r["connections"] == conns:
                return r
    return None


def _rps(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def targets(results: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    rows_out: list[dict[str, Any]] = []
    my_protos = [p for p in args.modelyard_protocols.split(",") if p]

    def add(name: str, value: float | None, target: float, higher: bool, detail: str) -> None:
        if value is None:
            status = "n/a"
        else:
            status = "PASS" if (value >= target if higher else value <= target) else "FAIL"
        rows_out.append(
            {
                "target": name,
                "value": None if value is None else round(value, 3),
                "goal": target,
                "higher_is_better": higher,
                "status": status,
                "detail": detail,
            }
        )

    for model in args.models:
        for rows in [int(b) for b in args.batch_sizes]:
            bare = c8_rps(results, BASELINE_BARE, model, None, rows)
            mls = c8_rps(results, "mlserver", model, "v2", rows)
            for proto in my_protos:
                # like for like on /invocations bodies; otherwise mlflow's fastest form (`inputs`)
                mlf = c8_rps(
                    results, "mlflow", model, proto if proto.startswith("mlflow") else "mlflow", rows
                )
                my, how = c8_rps(results, "modelyard", model, proto, rows)
                tag = f"{model} {rows}-row {proto} c=8"
                for (peer, peer_how), goal, label in (
                    (bare, 0.9, "bare-1w"),
                    (mls, 2.0, "mlserver"),
                    (mlf, 10.0, "mlflow"),
                ):
                    v = my / peer if my and peer else None
                    det = f"{_rps(my)} ({how}) vs {_rps(peer)} ({peer_how}) req/s"
                    add(f"modelyard/{label} throughput, {tag}", v, goal, True, det)
    # batching at 64 connections of 1-row requests vs the bare single-worker limit (best of c=8, c=64)
    for model in args.models:
        bare_best = max(
            (
                r["rps"]
                for c in [*args.concurrency, 8]
                if (r := find(results, BASELINE_BARE, model, None, 1, c))
            ),
            default=None,
        )
        for proto in my_protos:
            b = find(results, "modelyard-batch", model, proto, 1, 64)
            v = b["rps"] / bare_best if b and bare_best else None
            add(
                f"modelyard batching/bare-1w, {model} 1-row {proto} c=64",
                v,
                2.0,
                True,
                f"{b['rps'] if b else '-'} vs best bare-1w {bare_best or '-'} req/s",
            )
    # p99 below MLServer's at every measured concurrency (gbc 1-row, plus all with --latency-all)
    for e in results["servers"]:
        if e["server"] != "modelyard":
            continue
        for r in e["runs"]:
            peer = find(results, "mlserver", e["model"], "v2", r["rows"], r["connections"])
            if r["connections"] not in args.concurrency or not (
                args.latency_all or (e["model"] == "gbc" and r["rows"] == 1)
            ):
                continue
            v = r["p99_ms"] / peer["p99_ms"] if peer and peer["p99_ms"] else None
            add(
                f"modelyard p99 / mlserver p99, {e['model']} {r['rows']}-row {r['protocol']} c={r['connections']}",
                v,
                1.0,
                False,
                f"{r['p99_ms']} vs {peer['p99_ms'] if peer else '-'} ms",
            )
    cold = results["cold_start"].get("modelyard")
    add(
        "modelyard cold start (s, median)",
        statistics.median(cold) if cold else None,
        2.0,
        False,
        f"samples {cold}" if cold else "not measured",
    )
    return rows_out


def print_report(results: dict[str, Any]) -> None:  # noqa: PLR0912
    print("\n== throughput and latency (wrk, req/s; latency p50/p99 ms) ==")
    hdr = f"{'model':5} {'rows':>4} {'server':15} {'proto':12} {'check':6} {'req/s c=8':>10}  {'c=1 p50/p99':>16}  {'c=8 p50/p99':>16}  {'c=64 req/s':>10} {'c=64 p50/p99':>17}"
    print(hdr)
    print("-" * len(hdr))
    for e in results["servers"]:
        if e.get("error"):
            print(
                f"{e['model']:5} {'':>4} {e['server']:15} {'':12} FAILED  {e['error'].splitlines()[0][:90]}"
            )
            continue
        keys = sorted(
            {(r["protocol"], r["rows"]) for r in e["runs"]}
            | {(c["protocol"], c["rows"]) for c in e["checks"]}
        )
        for proto, rows in keys:
            by_c = {r["connections"]: r for r in e["runs"] if r["protocol"] == proto and r["rows"] == rows}
            chk = next((c for c in e["checks"] if c["protocol"] == proto and c["rows"] == rows), None)
            ok = "ok" if chk and chk["ok"] else "WRONG"

            def lat(c: int, by_c: dict[int, Any] = by_c) -> str:
                r = by_c.get(c)
                return f"{r['p50_ms']:.1f}/{r['p99_ms']:.1f}" if r else "-"

            c8 = f"{by_c[8]['rps']:.1f}" if 8 in by_c else "-"
            c64 = f"{by_c[64]['rps']:.1f}" if 64 in by_c else "-"
            errs = sum(r["errors"] for r in by_c.values())
            tail = f"  errors={errs}" if errs else ""
            print(
                f"{e['model']:5} {rows:>4} {e['server']:15} {proto:12} {ok:6} {c8:>10}  {lat(1):>16}  {lat(8):>16}  {c64:>10} {lat(64):>17}{tail}"
            )
    for e in results["servers"]:
        for c in e["checks"]:
            if not c["ok"]:
                print(
                    f"WARNING: {e['server']}/{c['protocol']}/{e['model']}/{c['rows']}-row: {c['detail'][:300]}"
                )
    if results.get("rounds"):
        print("\n== interleaved rounds: 1-row bodies, 8 connections (req/s; the targets use the medians) ==")
        cells: dict[tuple[str, str, str], list[float]] = {}
        for sample in results["rounds"]:
            cells.setdefault((sample["model"], sample["server"], sample["protocol"]), []).append(
                sample["rps"]
            )
        for (model, server, proto), rps in cells.items():
            runs = ", ".join(f"{x:.0f}" for x in rps)
            print(f"  {model:5} {server:15} {proto:12} median {statistics.median(rps):9.1f}   ({runs})")
    print("\n== cold start: launch to first 200 on a predict request (s) ==")
    for name, samples in results["cold_start"].items():
        med = statistics.median(samples) if samples else float("nan")
        print(f"  {name:15} median {med:6.2f}  samples {samples}   (issue: {ISSUE_BASELINES.get(name, '-')})")
    for name, errs in results.get("cold_start_errors", {}).items():
        print(f"  {name:15} errors: {len(errs)} ({errs[0].splitlines()[0][:120]})")
    print("\n== targets (issue 5) ==")
    if not any(e["server"].startswith("modelyard") and e["runs"] for e in results["servers"]):
        print("  n/a   modelyard was not measured: no target can be checked")
    for t in results["targets"]:
        if t["value"] is None and not any(e["server"].startswith("modelyard") for e in results["servers"]):
            continue
        v = "-" if t["value"] is None else f"{t['value']:.3f}"  # 0.896 must not read as 0.90
        op = ">=" if t["higher_is_better"] else "<="
        print(f"  {t['status']:4}  {t['target']:64} {v:>7} {op} {t['goal']:<4}  {t['detail']}")
    la = results["loadavg"]
    print(f"\nload average: start {la['start']}  end {la['end']}  (cores: {os.cpu_count()})")
    if results.get("notes"):
        for n in results["notes"]:
            print(f"NOTE: {n}")


def versions() -> dict[str, str]:
    out: dict[str, str] = {"python": platform.python_version()}
    for pkg in ("mlflow", "scikit-learn", "numpy"):
        with contextlib.suppress(Exception):
            out[pkg] = version(pkg)
    with contextlib.suppress(Exception):
        out["mlserver"] = subprocess.run(
            [str(SERVING_VENV / "bin" / "mlserver"), "--version"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        ).stdout.strip()
    with contextlib.suppress(Exception):
        out["uvicorn(serving venv)"] = subprocess.run(
            [str(SERVING_VENV / "bin" / "python"), "-c", "import uvicorn; print(uvicorn.__version__)"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        ).stdout.strip()
    with contextlib.suppress(Exception):
        p = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False, timeout=10)
        out["wrk"] = (p.stdout + p.stderr).splitlines()[0]
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="5 s per wrk run (default 15 s), 1 s warm-up")
    p.add_argument("--duration", type=float, help="seconds per timed wrk run (default 15, --quick 5)")
    p.add_argument(
        "--warmup", type=float, help="seconds of untimed wrk warm-up per body (default 2, --quick 1)"
    )
    p.add_argument("--servers", default=",".join(SERVER_ORDER), help="comma list, default: all")
    p.add_argument("--models", default="gbc,iris", help="comma list: gbc,iris")
    p.add_argument("--batch-sizes", default="1,100", help="rows per request, from 1,100")
    p.add_argument("--concurrency", default="1,8,64", help="wrk connections for the latency runs")
    p.add_argument("--latency-all", action="store_true", help="latency at every concurrency for every body")
    p.add_argument("--cold-runs", type=int, default=3, help="launches per server for the cold start median")
    p.add_argument("--cold-model", default="gbc")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of the 1-row c=8 cells for bare-1w, mlserver and modelyard on the "
        "--rounds-model (fresh processes each round; the targets use the medians; 0: none)",
    )
    p.add_argument("--rounds-model", default="gbc")
    p.add_argument("--ready-timeout", type=float, default=120.0)
    p.add_argument(
        "--modelyard-bin",
        default=str(ROOT / ".bench-venv" / "modelyard" / "bin" / "modelyard"),
        help="the modelyard executable (default: the modelyard[sklearn] install that setup.sh makes)",
    )
    p.add_argument("--modelyard-protocols", default="mlflow,mlflow-split,v2,seldon")
    p.add_argument(
        "--modelyard-arg", action="append", default=[], help="extra serve-model argument (repeatable)"
    )
    p.add_argument("--max-batch-size", type=int, default=64)
    p.add_argument("--max-batch-wait-ms", type=float, default=2)
    p.add_argument(
        "--models-dir", help="reuse models trained by train_models.py (default: train into a temp dir)"
    )
    p.add_argument("--json-out", help="default bench/results/serving-<time>.json")
    a = p.parse_args(argv)
    a.duration = a.duration or (5.0 if a.quick else 15.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if a.quick else 2.0)
    a.servers = [s for s in a.servers.split(",") if s]
    a.models = [m for m in a.models.split(",") if m]
    a.batch_sizes = [b for b in a.batch_sizes.split(",") if b]
    a.concurrency = [int(c) for c in a.concurrency.split(",") if c]
    if a.max_batch_wait_ms == int(a.max_batch_wait_ms):
        a.max_batch_wait_ms = int(a.max_batch_wait_ms)
    unknown = set(a.servers) - set(SERVER_ORDER)
    if unknown:
        p.error(f"unknown servers {sorted(unknown)}; choose from {SERVER_ORDER}")
    return a


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0912
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_out = Path(args.json_out) if args.json_out else ROOT / "bench" / "results" / f"serving-{stamp}.json"
    results: dict[str, Any] = {
        "started": stamp,
        "args": {k: v for k, v in vars(args).items()},
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(),
        "loadavg": {"start": [round(x, 2) for x in os.getloadavg()]},
        "servers": [],
        "cold_start": {},
        "notes": [],
    }
    if results["loadavg"]["start"][0] > (os.cpu_count() or 1):
        print(
            f"WARNING: load average {results['loadavg']['start']} is above the core count: numbers will be noisy"
        )
    servers = list(args.servers)
    if any(s.startswith("modelyard") for s in servers):
        ok, why = modelyard_available(args.modelyard_bin)
        if not ok:
            note = f"modelyard serve-model is not available ({args.modelyard_bin}): {why}; modelyard not measured"
            results["notes"].append(note)
            print(f"WARNING: {note}", flush=True)
            servers = [s for s in servers if not s.startswith("modelyard")]
    tmp = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    try:
        if args.models_dir:
            models_dir = Path(args.models_dir)
        else:
            models_dir = tmp / "models"
            print("training models ...", flush=True)
            subprocess.run(
                [str(BENCH_VENV / "bin" / "python"), str(HERE / "train_models.py"), str(models_dir)],
                check=True,
            )
        models = load_models(models_dir, args.models)
        for model in models:
            print(f"\n== model {model.name} ==", flush=True)
            for name in servers:
                measure_server(name, model, args, tmp, results)
        rounds_model = next((m for m in models if m.name == args.rounds_model), None)
        if args.rounds > 0 and rounds_model is not None:
            print(f"\n== interleaved rounds ({rounds_model.name}, 1-row, c=8) ==", flush=True)
            interleaved_rounds(rounds_model, servers, args, tmp, results)
        if args.cold_runs > 0:
            cold = next((m for m in models if m.name == args.cold_model), None)
            if cold is not None:
                print(f"\n== cold start ({cold.name}, {args.cold_runs} launches per server) ==", flush=True)
                for name in servers:
                    if name == "modelyard-batch":
                        continue
                    cold_starts(name, cold, args, tmp, results)
                    s = results["cold_start"].get(name) or []
                    if s:
                        print(f"  {name:15} median {statistics.median(s):.2f}s  {s}", flush=True)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        results["loadavg"]["end"] = [round(x, 2) for x in os.getloadavg()]
        results["targets"] = targets(results, args)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(results, indent=2))
        print_report(results)
        print(f"\nresults: {json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
