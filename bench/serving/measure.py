"""The measurement passes: checks and timed wrk runs per server and model, interleaved rounds, cold starts.

Every pass records what it measured (and what failed) into the results dict that becomes the JSON file;
a server that fails to start or to answer correctly is recorded and skipped, never timed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from payloads import Model, body_for, check_predictions, extract_predictions
from servers import Running, log_tail, make_server, post, proto_url
from wrk import run_wrk, write_lua


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
