"""What the runs table can show and filter on: the param, metric and tag keys the runs of some
experiments use (for the column chooser and the filter box's autocomplete), the attributes the filter
grammar accepts, and a check of a filter that says where a mistake is.

Keys come from ``experiment_keys``, which triggers keep as runs are written, so listing them reads a
few rows per key, never the runs' params. A key stays listed after the runs that used it are deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.identity import Principal, Role
from modelyard.domain.search import RUNS, Entity, parse_filter
from modelyard.domain.search_tokens import SearchSyntaxError
from modelyard.services.tracking.experiments import ExperimentService, parse_experiment_id
from modelyard.storage import experiment_keys
from modelyard.storage.db import Database

MAX_EXPERIMENTS = 100
ATTRIBUTES = tuple(sorted(RUNS.closed_keys[Entity.ATTRIBUTE]))
DATASET_FIELDS = tuple(sorted(RUNS.closed_keys[Entity.DATASET]))


@dataclass(frozen=True, slots=True)
class RunColumns:
    experiment_ids: list[str]
    params: list[str]
    metrics: list[str]
    tags: list[str]
    attributes: tuple[str, ...] = ATTRIBUTES
    dataset_fields: tuple[str, ...] = DATASET_FIELDS


@dataclass(frozen=True, slots=True)
class FilterCheck:
    """A filter's verdict: valid, or the refusal's message and where it points (``SearchSyntaxError``)."""

    valid: bool
    clauses: int = 0
    error: SearchSyntaxError | None = None


class ColumnService:
    def __init__(self, db: Database, experiments: ExperimentService) -> None:
        self.db = db
        self.experiments = experiments

    def run_columns(self, actor: Principal, experiment_ids: Sequence[Any]) -> RunColumns:
        """The keys the runs of the experiments use; an experiment the actor cannot read answers like a
        missing one (``ExperimentService.require_access``, as a get of the experiment)."""
        ids = list(dict.fromkeys(parse_experiment_id(e) for e in experiment_ids))
        if not ids:
            raise InvalidParameter("Missing value for required parameter 'experiment_id'.")
        if len(ids) > MAX_EXPERIMENTS:
            raise InvalidParameter(
                f"Too many values for parameter 'experiment_id': {len(ids)}; at most {MAX_EXPERIMENTS} "
                "in one request."
            )
        for eid in ids:
            self.experiments.require_access(actor, eid, Role.VIEWER)
        with self.db.read() as s:
            keys = experiment_keys.keys_of(s, ids)
        return RunColumns(
            experiment_ids=[str(e) for e in ids],
            params=keys["param"],
            metrics=keys["metric"],
            tags=keys["tag"],
        )

    @staticmethod
    def check_filter(text: str | None) -> FilterCheck:
        """Parse a run filter as a search would, without running it."""
        try:
            return FilterCheck(valid=True, clauses=len(parse_filter(text)))
        except SearchSyntaxError as error:
            return FilterCheck(valid=False, error=error)
