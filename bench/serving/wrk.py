"""Load generation with wrk: the Lua script that POSTs a body, one timed wrk run, and its numbers.

run_wrk returns requests/s and latency percentiles from the JSON line the Lua script's done() prints,
so nothing depends on the format of wrk's own text report.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

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
