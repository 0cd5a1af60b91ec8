"""The report: the targets (issue 5) checked against the results, the printed tables, and the versions.

Throughput targets for 1-row bodies use the medians of the interleaved rounds where there are some
(c8_rps), all other cells the one run of the main pass.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
from importlib.metadata import version
from typing import Any

from servers import SERVING_VENV

BASELINE_BARE = "bare-1w"  # the "practical limit" the targets refer to

# mlflow / MLServer / bare numbers measured on this machine when the targets were set (issue 5)
ISSUE_BASELINES = {
    "mlflow": "~76 req/s, cold 13 s",
    "mlserver": "~414 req/s, cold 5.4 s",
    "bare-1w": "~875 req/s",
    "bare-2w": "~1,860 req/s",
}


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
