"""Runs side by side, for the compare page: the runs a user asked for that they may read, and how
many of the others there were, without telling a run of another group from a missing one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelyard.domain.compare import MAX_COMPARE_RUNS, could_be_run_id
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.identity import Principal, Role
from modelyard.domain.tracking import Run
from modelyard.storage import compare_sql
from modelyard.storage import tracking_repo as repo
from modelyard.storage.db import Database


@dataclass(frozen=True, slots=True)
class Comparison:
    """``runs``: the runs asked for that exist and that the actor may read, in the order asked (with
    params, latest metrics and tags); ``not_found``: the other ids asked for, in the order asked (a
    run of a group the actor cannot read is among them exactly as a missing one);
    ``experiment_names``: experiment id -> name, for the runs found."""

    runs: list[Run]
    not_found: list[str]
    experiment_names: dict[str, str]


class CompareService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def compare(self, actor: Principal, run_ids: Sequence[str]) -> Comparison:
        ids = list(dict.fromkeys(run_ids))
        if len(ids) > MAX_COMPARE_RUNS:
            raise InvalidParameter(
                f"Too many runs to compare: {len(ids):,}; a comparison holds at most {MAX_COMPARE_RUNS}."
            )
        candidates = [run_id for run_id in ids if could_be_run_id(run_id)]
        with self.db.read() as s:
            places = compare_sql.run_places(s, candidates)
            readable = [
                run_id
                for run_id in candidates
                if run_id in places and (actor.role_in(places[run_id].group_id) or 0) >= Role.VIEWER
            ]
            runs = repo.load_runs(s, readable)
        found = {run.run_id for run in runs}
        names = {places[r.run_id].experiment_id: places[r.run_id].experiment_name for r in runs}
        return Comparison(runs, [run_id for run_id in ids if run_id not in found], names)
