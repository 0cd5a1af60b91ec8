"""Runs for the compare page's tests, logged through the tracking service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Metric
from modelyard.services import Services

XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_ATTRIBUTE = '"><img src=x onerror="window.__xss=1">'


def log_run(
    services: Services,
    actor: Principal,
    experiment_id: str,
    name: str,
    *,
    params: Mapping[str, str] | None = None,
    metrics: Mapping[str, Sequence[float]] | None = None,
    tags: Mapping[str, str] | None = None,
    start: int = 1_700_000_000_000,
) -> str:
    """A run with params, tags and metric histories (value i at step i, a second apart); its id."""
    run = services.tracking.create_run(actor, experiment_id=experiment_id, run_name=name, start_time=start)
    services.tracking.log_batch(actor, run.run_id, params=dict(params or {}), tags=dict(tags or {}))
    for key, values in (metrics or {}).items():
        for first in range(0, len(values), 1000):
            points = [
                Metric(key, v, start + 1000 * (first + i), first + i)
                for i, v in enumerate(values[first : first + 1000])
            ]
            services.tracking.log_batch(actor, run.run_id, metrics=points)
    return run.run_id


def three_runs(services: Services, actor: Principal, experiment_id: str) -> list[str]:
    """Three runs that differ in lr (and loss), agree on opt, and log 5, 7 and 9 loss points."""
    return [
        log_run(
            services,
            actor,
            experiment_id,
            f"run-{i}",
            params={"lr": lr, "opt": "adam"},
            metrics={"loss": [1.0 / (s + 1) + i for s in range(n)], "acc": [0.5 + i / 10] * n},
            tags={"team": "vision"},
            start=1_700_000_000_000 + i * 60_000,
        )
        for i, (lr, n) in enumerate((("0.1", 5), ("0.01", 7), ("0.001", 9)))
    ]
