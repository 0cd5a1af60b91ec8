"""Recovery under load: how long a deployment takes to get back to full capacity, and what clients see.

With ``load.py`` sending V2 predictions through the gateway all along (``--rate`` a second), on a
deployment of the iris model (versions 1 and 2 differ only in their regularisation, and each answer says
which version made it):

1. **scale** 1 -> 2 replicas: from the scale call to the first request the new replica answers;
2. **kill**: ``kill -9`` of one of the 2 replicas: from the kill to the first request its replacement
   answers;
3. **update** of the 2 replicas from version 1 to 2: from the update call to the last version-1 answer,
   how long both versions answered, and when the controller reports 2 new replicas ready with the old
   ones gone.

A watcher thread polls the deployment (every 0.1 s) and, once a replica is ready, its own ``/metrics``
(every 0.05 s), so "answers" means the replica counted a V2 request: a request that the gateway sent
it. Each scenario prints its milestones as seconds after its start, the failed requests (any answer but
200, or a connection error) in its window, and the lifecycle lines the controller wrote into the
replicas' logs in that window.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

LOAD = Path(__file__).with_name("load.py")
NAME = "rec"
_V2_REQUESTS = re.compile(r'^modelyard_serving_requests_total\{[^}]*protocol="v2"[^}]*\} ([0-9.e+]+)$', re.M)


def train(work: Path) -> tuple[dict[str, Path], bytes]:
    """Two versions of an iris classifier; a 1-row V2 body with the frame's named columns."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from modelyard.models import save_model

    features, labels = load_iris(return_X_y=True, as_frame=True)
    paths = {}
    for version, c in (("1", 1.0), ("2", 0.05)):
        model = LogisticRegression(C=c, max_iter=300).fit(features, labels)
        paths[version] = work / f"rec-v{version}"
        save_model(model, paths[version], input_example=features.head(2))
    row = features.iloc[0]
    body = {
        "inputs": [
            {"name": column, "shape": [1], "datatype": "FP64", "data": [float(row[column])]}
            for column in features.columns
        ]
    }
    return paths, json.dumps(body).encode()


@dataclass(eq=False)
class Watcher(threading.Thread):
    """Polls the deployment's status and the ready replicas' request counters."""

    url: str
    headers: dict[str, str]
    snapshots: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    served: dict[int, float] = field(default_factory=dict)  # replica pid -> first V2 request seen
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=10) as api, httpx.Client() as raw:
            polled = 0.0
            while not self.stop.is_set():
                now = time.time()
                if now - polled >= 0.1:
                    polled = now
                    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                        status = api.get(f"/deployment/api/{NAME}").json()["result"]["status"]
                        self.snapshots.append((time.time(), status))
                ready = self.latest().get("replicas_detail", []) if self.snapshots else []
                for r in ready:
                    pid = r.get("pid")
                    if r.get("state") != "ready" or pid is None or pid in self.served:
                        continue
                    with contextlib.suppress(httpx.HTTPError):
                        text = raw.get(f"{r['url']}/metrics", timeout=1).text
                        if sum(float(x) for x in _V2_REQUESTS.findall(text)) > 0:
                            self.served[pid] = time.time()
                time.sleep(0.05)

    def latest(self) -> dict[str, Any]:
        return self.snapshots[-1][1]

    def first(self, since: float, check: Callable[[dict[str, Any]], bool]) -> float | None:
        """The time of the first snapshot after ``since`` for which ``check`` holds."""
        for t, status in list(self.snapshots):
            if t >= since and check(status):
                return t
        return None

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.02)
        raise RuntimeError(f"timed out waiting for {what}; last status: {self.latest()}")


def _replicas(status: dict[str, Any], state: str | None = None) -> list[dict[str, Any]]:
    return [r for r in status.get("replicas_detail", []) if state is None or r.get("state") == state]


def _settled(status: dict[str, Any], replicas: int) -> bool:
    return (
        status.get("phase") == "Deployed"
        and status.get("observed_generation") == status.get("generation")
        and len(_replicas(status, "ready")) == replicas == len(_replicas(status))
    )


class Load:
    """``load.py`` in a subprocess; ``records()`` once it is stopped."""

    def __init__(self, url: str, body: bytes, rate: float, work: Path) -> None:
        (work / "v2-body.json").write_bytes(body)
        self.out = work / "load.jsonl"
        argv = [sys.executable, str(LOAD), "--url", url, "--body", str(work / "v2-body.json")]
        argv += ["--rate", str(rate), "--out", str(self.out)]
        self.proc = subprocess.Popen(argv)

    def stop(self) -> list[tuple[float, float, int, str]]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        return [tuple(json.loads(line)) for line in self.out.read_text().splitlines()]  # type: ignore[misc]


def _at(t: float | None, t0: float) -> str:
    return f"+{t - t0:.2f} s" if t is not None else "never"


def _lifecycle(api: httpx.Client, since: float, until: float) -> list[str]:
    """The controller's lines in the replicas' logs (``[modelyard controller] ...``) in a window."""
    lines = []
    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
        found = api.get(f"/deployment/api/{NAME}/logs", params={"tail": 200, "all": "true"}).json()
        for item in found["result"]["lines"]:
            line = item["line"]
            if "[modelyard controller]" not in line:
                continue
            stamp = _stamp(line)
            if stamp is None or since <= stamp <= until:
                lines.append(f"    [{item['replica']}] {line}")
    return sorted(lines, key=lambda s: s.split("] ", 1)[1])


def _stamp(line: str) -> float | None:
    from datetime import datetime

    with contextlib.suppress(ValueError, IndexError):
        return datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")).timestamp()
    return None


def scale(api: httpx.Client, watch: Watcher) -> tuple[float, float, dict[str, float | None]]:
    before = {r["pid"] for r in _replicas(watch.latest())}
    t0 = time.time()
    api.post(f"/deployment/api/{NAME}/scale", json={"replicas": 2}).raise_for_status()

    def new_pid() -> int | None:
        found = [r["pid"] for r in _replicas(watch.latest(), "ready") if r["pid"] not in before]
        return found[0] if found else None

    pid = watch.wait("the new replica to be ready", new_pid)
    done = watch.wait("the new replica to answer", lambda: watch.served.get(pid))
    return (
        t0,
        done,
        {
            "started (controller)": watch.first(t0, lambda s: len(_replicas(s)) == 2),
            "ready (controller)": watch.first(t0, lambda s: len(_replicas(s, "ready")) == 2),
            "first request answered": done,
        },
    )


def kill(api: httpx.Client, watch: Watcher) -> tuple[float, float, dict[str, float | None]]:
    victim = _replicas(watch.latest(), "ready")[0]
    t0 = time.time()
    os.kill(victim["pid"], signal.SIGKILL)

    def replacement() -> int | None:
        found = [
            r["pid"]
            for r in _replicas(watch.latest(), "ready")
            if r["name"] == victim["name"] and r["pid"] != victim["pid"]
        ]
        return found[0] if found else None

    pid = watch.wait("the killed replica's replacement to be ready", replacement)
    done = watch.wait("the replacement to answer", lambda: watch.served.get(pid))

    def state(s: dict[str, Any]) -> dict[str, Any]:
        return next((r for r in _replicas(s) if r["name"] == victim["name"]), {})

    return (
        t0,
        done,
        {
            "exit seen (controller)": watch.first(t0, lambda s: state(s).get("pid") != victim["pid"]),
            "restarted (controller)": watch.first(
                t0, lambda s: state(s).get("pid") not in (None, victim["pid"])
            ),
            "ready (controller)": watch.first(
                t0, lambda s: state(s).get("state") == "ready" and state(s).get("pid") != victim["pid"]
            ),
            "first request answered": done,
        },
    )


def update(api: httpx.Client, watch: Watcher) -> tuple[float, float, dict[str, float | None]]:
    old = {r["template"] for r in _replicas(watch.latest())}
    t0 = time.time()
    body = {"predictors": [{"name": "main", "model": f"models:/{NAME}/2"}]}
    api.put(f"/deployment/api/{NAME}", json=body).raise_for_status()

    def rolled() -> bool:
        s = watch.latest()
        return _settled(s, 2) and not old & {r["template"] for r in _replicas(s)}

    watch.wait("the update to finish", rolled)
    done = time.time()
    return (
        t0,
        done,
        {
            "first new replica ready (controller)": watch.first(
                t0, lambda s: any(r["template"] not in old for r in _replicas(s, "ready"))
            ),
            "2 new replicas ready, old ones gone (controller)": done,
        },
    )


def _window(records: list[tuple[float, float, int, str]], t0: float, t1: float) -> dict[str, Any]:
    inside = [r for r in records if t0 <= r[0] <= t1]
    failed = [r for r in inside if r[2] != 200]
    v1 = [r[1] for r in inside if r[2] == 200 and r[3] == "1"]
    v2 = [r[1] for r in inside if r[2] == 200 and r[3] == "2"]
    return {
        "requests": len(inside),
        "failed": failed,
        "last_v1": max(v1, default=None),
        "first_v2": min(v2, default=None),
    }


def run(api: httpx.Client, url: str, headers: dict[str, str], work: Path, rate: float) -> dict[str, Any]:
    """Register the two versions, deploy 1 replica, then scale, kill and update under load."""
    paths, body = train(work)
    api.post("/api/2.0/mlflow/registered-models/create", json={"name": NAME}).raise_for_status()
    for version in ("1", "2"):
        source = {"name": NAME, "source": str(paths[version])}
        api.post("/api/2.0/mlflow/model-versions/create", json=source).raise_for_status()
    spec = {"name": NAME, "predictors": [{"name": "main", "model": f"models:/{NAME}/1", "replicas": 1}]}
    api.post("/deployment/api/", json=spec).raise_for_status()
    watch = Watcher(url, headers)
    watch.start()
    results: dict[str, Any] = {}
    try:
        watch.wait("the deployment to be Deployed", lambda: watch.snapshots and _settled(watch.latest(), 1))
        load = Load(f"{url}/deployment/{NAME}/v2/models/{NAME}/infer", body, rate, work)
        windows: list[tuple[str, float, float, dict[str, float | None]]] = []
        try:
            time.sleep(3)
            for scenario in (scale, kill, update):
                t0, done, milestones = scenario(api, watch)
                time.sleep(2)  # the window goes on a little: requests just after count too
                windows.append((scenario.__name__, t0, time.time(), {**milestones, "done": done}))
        finally:
            records = load.stop()
    finally:
        watch.stop.set()
        watch.join(timeout=10)
    print(f"recovery under load: {rate:.0f} V2 requests/s through the gateway, {len(records)} sent in all")
    for name, t0, t1, seen in windows:
        w = _window(records, t0, t1)
        milestones = dict(seen)
        results[name] = {"failed": len(w["failed"]), "requests": w["requests"]}
        if name == "update":
            milestones = {
                "first version-2 answer": w["first_v2"],
                "last version-1 answer": w["last_v1"],
                **milestones,
            }
            mixed = (w["last_v1"] - w["first_v2"]) if w["first_v2"] and w["last_v1"] else 0.0
            results[name]["mixed_s"] = round(max(0.0, mixed), 2)
            total = max(milestones["done"] or t0, w["last_v1"] or t0) - t0
        else:
            total = (milestones["done"] or t0) - t0
        results[name]["seconds"] = round(total, 2)
        print(f"  {name}: {total:.2f} s, {len(w['failed'])} of {w['requests']} requests failed")
        for what, t in milestones.items():
            if what != "done":
                print(f"    {what:48s} {_at(t, t0)}")
        if name == "update":
            print(f"    versions 1 and 2 both answered for {results[name]['mixed_s']:.2f} s")
        for failure in w["failed"][:5]:
            print(f"    failed: {failure}")
        for line in _lifecycle(api, t0, t1):
            print(line)
    return results
