"""Reading runs: one run, metric histories, search. The base of ``TrackingService``, which adds the writes.

Every read checks the actor's role in the run's group (hidden runs answer like missing ones);
searches drop experiments of groups the actor cannot read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.search import parse_filter, parse_order_by
from modelyard.domain.tracking import (
    METRIC_HISTORY_PAGE,
    SEARCH_RUNS_DEFAULT,
    SEARCH_RUNS_MAX,
    Metric,
    MetricPoints,
    Run,
    ViewType,
)
from modelyard.services.common import check_max_results, decode_page_token, encode_page_token
from modelyard.services.tracking.experiments import ExperimentService, parse_experiment_id
from modelyard.storage import metric_chunks
from modelyard.storage import run_writes as writes
from modelyard.storage import tracking_repo as repo
from modelyard.storage.db import Database
from modelyard.storage.run_search import search_run_ids


class RunReads:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _scope(self, s: Session, actor: Principal, run_id: str, role: Role) -> tuple[str, int]:
        """(lifecycle_stage, group_id) of the run, after checking the actor's role in its group."""
        stage, group_id = writes.run_scope(s, run_id)
        actor.require(group_id, role, what=f"Run {run_id}", missing=writes.run_not_found(run_id))
        return stage, group_id

    def get_run(self, actor: Principal, run_id: str) -> Run:
        if not run_id:
            raise InvalidParameter("Missing value for required parameter 'run_id'.")
        with self.db.read() as s:
            self._scope(s, actor, run_id, Role.VIEWER)
            found = repo.load_runs(s, [run_id])
        if not found:
            raise NotFound(f"Run with id={run_id} not found")
        return found[0]

    # ---- reading --------------------------------------------------------------------------------
    def metric_history(
        self,
        actor: Principal,
        run_id: str,
        key: str,
        *,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> tuple[MetricPoints, str | None]:
        """One page of a metric's points, ordered by step, timestamp and value, and the next page's token."""
        if not key:
            raise InvalidParameter("Missing value for required parameter 'metric_key'.")
        limit = check_max_results(max_results, default=METRIC_HISTORY_PAGE, maximum=METRIC_HISTORY_PAGE)
        offset = decode_page_token(page_token)
        with self.db.read() as s:
            self._scope(s, actor, run_id, Role.VIEWER)
            points = metric_chunks.series(s, run_id, key).slice(offset, offset + limit + 1)
        token = encode_page_token(offset + limit) if len(points) > limit else None
        return points.slice(0, limit), token

    def metric_history_bulk_interval(
        self,
        actor: Principal,
        run_ids: list[str],
        key: str,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        max_results: int | None = None,
    ) -> list[Metric]:
        """Up to ``max_results`` points per run, evenly spaced over the steps, first and last included."""
        if not run_ids:
            raise InvalidParameter("GetMetricHistoryBulkInterval request must specify at least one run_id.")
        if len(run_ids) > 100:
            raise InvalidParameter(
                f"GetMetricHistoryBulkInterval accepts at most 100 run_ids, got {len(run_ids)}."
            )
        if (start_step is None) != (end_step is None):
            raise InvalidParameter("If either start step or end step are specified, both must be specified.")
        if start_step is not None and end_step is not None and start_step > end_step:
            raise InvalidParameter("end_step must be greater than start_step.")
        limit = check_max_results(max_results, default=320, maximum=1000)
        out: list[Metric] = []
        with self.db.read() as s:
            for run_id in run_ids:
                self._scope(s, actor, run_id, Role.VIEWER)
                points = metric_chunks.history(s, run_id, key, min_step=start_step, max_step=end_step)
                steps = sorted({p.step for p in points})
                if len(steps) > limit:
                    idx = (
                        {round(i * (len(steps) - 1) / (limit - 1)) for i in range(limit)}
                        if limit > 1
                        else {0}
                    )
                    keep = {steps[i] for i in idx}
                    points = [p for p in points if p.step in keep]
                out.extend(points)
        return out

    def search_runs(
        self,
        actor: Principal,
        *,
        experiment_ids: list[Any],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        limit = check_max_results(max_results, default=SEARCH_RUNS_DEFAULT, maximum=SEARCH_RUNS_MAX)
        offset = decode_page_token(page_token)
        filters = parse_filter(filter_string)
        orders = parse_order_by(order_by or [])
        eids = [parse_experiment_id(e) for e in experiment_ids]
        with self.db.read() as s:
            groups = actor.readable_groups()
            if groups is not None:
                # experiments of other groups are treated as missing: they contribute no runs
                eids = [
                    e for e in eids if (g := ExperimentService.group_of(s, e)) is not None and g in groups
                ]
                if not eids:
                    return [], None
            ids = search_run_ids(
                s,
                experiment_ids=eids,
                stages=view_type.stages(),
                filters=filters,
                order_by=orders,
                max_results=limit + 1,
                offset=offset,
            )
            runs = repo.load_runs(s, ids[:limit])
        token = encode_page_token(offset + limit) if len(ids) > limit else None
        return runs, token
