"""What the run page's overview tab shows, gathered from the run (its fields, code version,
environment and tags), the metric summaries of the chart data service and the registry: each read
with the signed-in user, so the registry's versions are only those the user may see."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

from modelyard.domain.identity import Principal
from modelyard.domain.registry import ModelVersion
from modelyard.domain.tracking import (
    GIT_BRANCH_TAG,
    GIT_COMMIT_TAG,
    GIT_REPO_TAG,
    USER_TAG,
    Run,
    RunStatus,
)
from modelyard.services import Services
from modelyard.services.tracking.run_details import RunDetails

NOTE_TAG = "mlflow.note.content"
SYSTEM_PREFIX = "mlflow."
SOURCE_NAME_TAG = "mlflow.source.name"
SOURCE_TYPE_TAG = "mlflow.source.type"
ENTRY_POINT_TAG = "mlflow.project.entryPoint"
VERSIONS_SHOWN = 100
# a remote we can link a commit on: https://host/owner/repo(.git)
_WEB_REMOTE = re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]+)?/[\w.~-]+/[\w.~/-]+?(?:\.git)?/?$")


@dataclass(frozen=True, slots=True)
class Git:
    commit: str | None
    branch: str | None
    remote: str | None
    dirty: bool | None
    commit_url: str | None  # the commit on the remote's web pages, when the remote is an https URL


@dataclass(frozen=True, slots=True)
class MetricRow:
    key: str
    latest: float
    step: int
    timestamp: int
    min: float | None
    max: float | None
    count: int
    non_finite: int


def metric_number(value: float | None) -> str:
    """A metric value as the tables show it: up to 8 significant digits, NaN and ±∞ named."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.8g}"


def duration_text(ms: int) -> str:
    """A duration for people: ``850 ms``, ``42.1 s``, ``3 min 5 s``, ``2 h 4 min``, ``3 d 1 h``."""
    if ms < 1000:
        return f"{max(ms, 0)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def duration(run: Run, now_ms: int | None = None) -> tuple[str, bool]:
    """The run's duration, and whether it is still running (then: so far)."""
    if run.end_time:
        return duration_text(run.end_time - run.start_time), False
    running = run.status in (RunStatus.RUNNING, RunStatus.SCHEDULED)
    if not running:
        return "", False
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    return duration_text(now - run.start_time), True


def git_of(run: Run) -> Git | None:
    code = run.code_version
    commit = (code.commit if code else None) or run.tags.get(GIT_COMMIT_TAG)
    branch = (code.branch if code else None) or run.tags.get(GIT_BRANCH_TAG)
    remote = (code.repo if code else None) or run.tags.get(GIT_REPO_TAG)
    dirty = code.dirty if code else None  # only modelyard's client records it
    if not (commit or branch or remote):
        return None
    url = None
    if commit and remote and _WEB_REMOTE.match(remote) and re.fullmatch(r"[0-9a-fA-F]{7,64}", commit):
        base = remote.rstrip("/")
        base = base[:-4] if base.endswith(".git") else base
        url = f"{base}/commit/{commit}"
    return Git(commit=commit, branch=branch, remote=remote, dirty=dirty, commit_url=url)


def source_of(run: Run) -> dict[str, str]:
    tags = run.tags
    found = {
        "name": tags.get(SOURCE_NAME_TAG, ""),
        "type": tags.get(SOURCE_TYPE_TAG, ""),
        "entry_point": tags.get(ENTRY_POINT_TAG, ""),
    }
    return {k: v for k, v in found.items() if v}


def tag_lists(run: Run) -> dict[str, list[tuple[str, str]]]:
    """The run's tags: those a user sets, and the system ones (``mlflow.*``, shown apart, read-only)."""
    items = sorted(run.tags.items())
    return {
        "user_tags": [(k, v) for k, v in items if not k.startswith(SYSTEM_PREFIX)],
        "system_tags": [(k, v) for k, v in items if k.startswith(SYSTEM_PREFIX) and k != NOTE_TAG],
    }


def metric_rows(svc: Services, user: Principal, run: Run) -> list[MetricRow]:
    """Each metric's latest point, finite minimum and maximum and number of points."""
    if not run.metrics:
        return []
    rows = []
    for m in svc.charts.summaries(user, [run.run_id]):
        rows.append(
            MetricRow(
                key=m.key,
                latest=m.latest.value,
                step=m.latest.step,
                timestamp=m.latest.timestamp,
                min=m.min,
                max=m.max,
                count=m.count,
                non_finite=m.non_finite.total,
            )
        )
    return rows


def registered_versions(svc: Services, user: Principal, run_id: str) -> tuple[list[ModelVersion], bool]:
    """The model versions registered from the run (that the user may see), and whether there are more."""
    found, token = svc.registry.search_model_versions(
        user, filter_string=f"run_id = '{run_id}'", max_results=VERSIONS_SHOWN
    )
    return found, token is not None


def overview(svc: Services, user: Principal, details: RunDetails) -> dict[str, Any]:
    run = details.run
    took, running = duration(run)
    versions, more_versions = registered_versions(svc, user, run.run_id)
    env = run.environment
    return {
        "duration": took,
        "running": running,
        "run_user": run.user_id or run.tags.get(USER_TAG, ""),
        "source": source_of(run),
        "git": git_of(run),
        "environment": env,
        "packages": sorted(env.packages.items()) if env else [],
        "params": sorted(run.params.items()),
        "metrics": metric_rows(svc, user, run),
        "versions": versions,
        "more_versions": more_versions,
        "description": run.tags.get(NOTE_TAG, ""),
        **tag_lists(run),
    }
