"""Runs for the runs-table tests, written through the services (as a client's calls would be)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import PARENT_RUN_TAG, Metric
from modelyard.services import Services

BASE_MS = 1_700_000_000_000


@dataclass
class Spec:
    name: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    parent: str | None = None  # the name of a run made before
    start: int = 0  # seconds after BASE_MS
    end: int | None = None  # seconds after BASE_MS; None: still running
    history: dict[str, list[float]] = field(default_factory=dict)  # metric -> values at steps 0, 1, ...


def make_runs(services: Services, actor: Principal, experiment_id: str, specs: list[Spec]) -> dict[str, str]:
    """Create the runs; returns name -> run id."""
    ids: dict[str, str] = {}
    for spec in specs:
        tags = dict(spec.tags)
        if spec.parent is not None:
            tags[PARENT_RUN_TAG] = ids[spec.parent]
        run = services.tracking.create_run(
            actor,
            experiment_id=experiment_id,
            run_name=spec.name,
            start_time=BASE_MS + spec.start * 1000,
            tags=tags,
        )
        metrics = [
            Metric(key, value, BASE_MS + spec.start * 1000 + step, step)
            for key, values in spec.history.items()
            for step, value in enumerate(values)
        ]
        metrics += [
            Metric(k, v, BASE_MS + spec.start * 1000 + 10_000, 10_000) for k, v in spec.metrics.items()
        ]
        if metrics or spec.params:
            services.tracking.log_batch(actor, run.run_id, metrics=metrics, params=spec.params)
        if spec.end is not None:
            services.tracking.update_run(
                actor, run.run_id, status="FINISHED", end_time=BASE_MS + spec.end * 1000
            )
        ids[spec.name] = run.run_id
    return ids


def experiment(services: Services, actor: Principal, name: str, **kwargs: Any) -> str:
    return services.experiments.create_experiment(actor, name=name, **kwargs)
