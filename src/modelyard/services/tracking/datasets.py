"""Datasets as people browse them (ModelDB's datasets pages): dataset names with their versions, each
version's schema and profile as MLflow logged them, and the runs that used it.

A *dataset* here is a name; its *versions* are the dataset rows with that name (one per experiment and
content digest: ``log_inputs`` keeps them so). A version belongs to the experiment whose runs used it,
and the actor sees it with the viewer role in that experiment's group — the groups of the experiments
whose runs used it. A name none of whose versions the actor can see, or a version of another group,
is answered exactly like a missing one. Reads only: datasets are written by the tracking API.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal
from modelyard.services.common import check_max_results
from modelyard.storage import dataset_reads as reads
from modelyard.storage.db import Database

CONTEXT_TAG = "mlflow.data.context"
DATASETS_PAGE = 50
RUNS_PAGE = 100
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    name: str
    versions: int
    experiments: int
    runs: int
    last_created_at: int


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    dataset_id: str
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None  # JSON text as logged (MLflow: {"mlflow_colspec": [...]} or a tensor spec)
    profile: str | None  # JSON text as logged (e.g. {"num_rows": 150, "num_elements": 600})
    experiment_id: str
    experiment_name: str
    experiment_stage: str
    created_at: int
    runs: int


@dataclass(frozen=True, slots=True)
class DatasetRun:
    """A run that used a dataset version; ``context`` is how (``training``, ``eval``; None: unsaid)."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    lifecycle_stage: str
    start_time: int
    context: str | None


def _missing(what: str) -> NotFound:
    return NotFound(f"No dataset {what} exists (or you do not have access to it).")


class DatasetService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list_datasets(
        self,
        actor: Principal,
        *,
        name_contains: str | None = None,
        after: str | None = None,
        max_results: int = DATASETS_PAGE,
    ) -> tuple[list[DatasetSummary], str | None]:
        """Dataset names the actor can see, in name order, ``max_results`` at a time after the name
        ``after``; and the ``after`` of the next page (None: no more)."""
        limit = check_max_results(max_results, default=DATASETS_PAGE, maximum=MAX_PAGE)
        groups = actor.readable_groups()
        with self.db.read() as s:
            rows = reads.names_page(
                s, groups, contains=name_contains or None, after=after or None, limit=limit + 1
            )
            page = rows[:limit]
            runs = reads.runs_per_name(s, groups, [r[0] for r in page])
        found = [DatasetSummary(name, v, e, runs.get(name, 0), t) for name, v, e, t in page]
        return found, page[-1][0] if len(rows) > limit else None

    def dataset_versions(self, actor: Principal, name: str) -> list[DatasetVersion]:
        """The versions of dataset ``name`` the actor can see, newest first; NotFound when none."""
        if not isinstance(name, str) or not name:
            raise InvalidParameter("Missing value for required parameter 'name'.")
        with self.db.read() as s:
            rows = reads.versions_of(s, actor.readable_groups(), name)
            runs = reads.runs_per_version(s, [row.dataset_uuid for row, _, _ in rows])
            found = [
                DatasetVersion(
                    dataset_id=row.dataset_uuid,
                    name=row.name,
                    digest=row.digest,
                    source_type=row.source_type,
                    source=row.source,
                    schema=row.schema,
                    profile=row.profile,
                    experiment_id=str(row.experiment_id),
                    experiment_name=experiment,
                    experiment_stage=stage,
                    created_at=row.created_at,
                    runs=runs.get(row.dataset_uuid, 0),
                )
                for row, experiment, stage in rows
            ]
        if not found:
            raise _missing(f"named '{name}'")
        return found

    def dataset_runs(
        self, actor: Principal, dataset_id: str, *, offset: int = 0, max_results: int = RUNS_PAGE
    ) -> tuple[list[DatasetRun], int]:
        """The runs the actor can see that used dataset version ``dataset_id``, newest first, from
        ``offset``; and how many there are in all."""
        limit = check_max_results(max_results, default=RUNS_PAGE, maximum=MAX_PAGE)
        if offset < 0:
            raise InvalidParameter(f"Invalid offset {offset}: it must be 0 or more.")
        groups = actor.readable_groups()
        with self.db.read() as s:
            found = reads.dataset_group(s, dataset_id)
            if found is None or actor.role_in(found[1]) is None:
                raise _missing(f"version with id={dataset_id}")
            rows, total = reads.runs_of_version(s, groups, dataset_id, offset=offset, limit=limit)
            runs = [
                DatasetRun(
                    run_id=run.run_uuid,
                    run_name=run.name,
                    experiment_id=str(run.experiment_id),
                    status=run.status,
                    lifecycle_stage=run.lifecycle_stage,
                    start_time=run.start_time,
                    context=(tags or {}).get(CONTEXT_TAG),
                )
                for run, tags in rows
            ]
        return runs, total
