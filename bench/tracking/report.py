"""The report: modelyard vs. mlflow per workload against its target, and the warnings.

A warning is a failed self-check, a failed workload, or a result of one server that differs from the
other's (CHECKS_OF names the checks compared for each workload).
"""

from __future__ import annotations

import argparse
from typing import Any

from workloads import SEARCHES, WORKLOADS, base_name, scaled


def ratio(name: str, results: dict[str, Any]) -> float | None:
    """How many times better modelyard is than mlflow (throughput ratio, or latency speedup)."""
    try:
        my = results["modelyard"]["workloads"][name]["value"]
        ml = results["mlflow"]["workloads"][name]["value"]
    except KeyError:
        return None
    higher = next(w[2] for w in WORKLOADS if w[0] == base_name(name))
    if not my or not ml:
        return None
    return my / ml if higher else ml / my


def fmt_value(res: dict[str, Any] | None, name: str) -> str:
    if res is None:
        return "-"
    if name in res.get("errors", {}):
        return "ERROR"
    w = res["workloads"].get(name)
    if w is None:
        return "-"
    v = w["value"]
    return f"{v:,.0f}" if v >= 100 else f"{v:,.2f}"


CHECKS_OF = {
    "ingest": ["ingest_history_counts"],
    "runs_per_s": ["runs_finished_count"],
    "filtered_search": ["filtered_count", "filtered_digest"],
    "page_1000": ["page_count", "page_has_next_token", "page_digest", "page_runs_complete"],
    "metric_history": ["history_count"],
}


def rows(args: argparse.Namespace) -> list[str]:
    """The report's rows: each selected workload, the searches once per scale."""
    out = []
    for name, *_ in WORKLOADS:
        if name in args.workloads:
            out += [scaled(name, n) for n in args.search_runs] if name in SEARCHES else [name]
    return out


def collect_warnings(results: dict[str, Any], args: argparse.Namespace) -> dict[str, list[str]]:
    """Per workload (or "startup"/"search_fill"): failed self-checks, errors and cross-server mismatches."""
    out: dict[str, list[str]] = {}
    for server, res in results.items():
        for name, w in res["workloads"].items():
            if "error_check" in w:
                out.setdefault(name, []).append(f"{server} {name}: {w['error_check']}")
        for name, err in res.get("errors", {}).items():
            out.setdefault(name, []).append(f"{server} {name} failed: {err[:300]}")
    ml, my = results.get("mlflow"), results.get("modelyard")
    if ml is not None and my is not None:
        for name in rows(args):
            suffix = name[len(base_name(name)) :]
            for key in CHECKS_OF[base_name(name)]:
                a, b = ml["checks"].get(key + suffix), my["checks"].get(key + suffix)
                if a is not None and b is not None and a != b:
                    out.setdefault(name, []).append(f"mismatch {key + suffix}: mlflow={a} modelyard={b}")
    return out


def report(results: dict[str, Any], args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    ratios: dict[str, Any] = {}
    warnings = collect_warnings(results, args)
    ml, my = results.get("mlflow"), results.get("modelyard")
    header = (
        f"{'workload':<22} {'unit':<9} {'mlflow':>10} {'modelyard':>10} {'my/ml':>8} {'target':>8}  "
        f"{'met':<4} {'check':<6} mlflow baseline"
    )
    print("\n" + header)
    print("-" * len(header))
    specs = {w[0]: w for w in WORKLOADS}
    for name in rows(args):
        _, unit, higher, target, baseline = specs[base_name(name)]
        r = ratio(name, results)
        rs, met = ("-", "") if r is None else (f"{r:,.1f}x", "yes" if r >= target else "no")
        tgt = f">={target:g}x" + ("" if higher else "*")
        measured = any(name in res["workloads"] for res in results.values())
        check = "WARN" if warnings.get(name) else ("ok" if measured else "-")
        print(
            f"{name:<22} {unit:<9} {fmt_value(ml, name):>10} {fmt_value(my, name):>10} {rs:>8} {tgt:>8}  "
            f"{met:<4} {check:<6} {baseline}"
        )
        if r is not None:
            ratios[name] = {"x_better": round(r, 2), "target": target, "met": r >= target}
    print("  * latency rows: my/ml is the speedup, mlflow p50 / modelyard p50 (higher = modelyard faster)")
    flat = [w for ws in warnings.values() for w in ws]
    for w in flat:
        print(f"WARNING  {w}")
    if not flat:
        both = "across servers and " if ml is not None and my is not None else ""
        print(f"checks: all results equal {both}to the expected answers")
    return flat, ratios
