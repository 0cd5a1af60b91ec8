"""Runs side by side, for the compare page: the runs a user asked for that they may read, and the
others, without telling a run of another group from a missing one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelyard.domain.compare import MAX_COMPARE_RUNS, ComparedRun, could_be_run_id
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.identity import Principal, Role
from modelyard.storage import compare_sql
from modelyard.storage.db import Database


@dataclass(frozen=True, slots=True)
class Comparison:
    """``runs``: the runs asked for that exist and that the actor may read (the viewer role in their
    group), in the order asked; ``not_found``: the other ids asked for, in the order asked (a run of a
    group the actor cannot read is among them exactly as a missing one)."""

    runs: list[ComparedRun]
    not_found: list[str]


class CompareService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def compare(self, actor: Principal, run_ids: Sequence[str]) -> Comparison:
        ids = list(dict.fromkeys(run_ids))
        if len(ids) > MAX_COMPARE_RUNS:
            raise InvalidParameter(
                f"Too many runs to compare: {len(ids):,}; a comparison holds at most {MAX_COMPARE_RUNS}."
            )
        with self.db.read() as s:
            found = compare_sql.run_rows(s, [run_id for run_id in ids if could_be_run_id(run_id)])
            runs = [
                row.run
                for run_id in ids
                if (row := found.get(run_id)) is not None
                and (actor.role_in(row.group_id) or 0) >= Role.VIEWER
            ]
            compare_sql.fill(s, runs)
        shown = {run.run_id for run in runs}
        return Comparison(runs, [run_id for run_id in ids if run_id not in shown])
