"""The runs table: one experiment's page (``/experiments/{id}``), several experiments' runs
(``/runs?experiments=1,2``), and the fragments their script fetches: more rows of the window
(keyset, before or after a run) and the count of matching runs. Deleting and restoring the
selected runs are forms that come back to the table.

The page renders a window of rows around ``from`` (the top by default); ``static/js/runs-table.js``
keeps at most ``MAX_ROWS`` of them in the page, fetching more as the table scrolls and dropping
those far out of view. Sorting, filtering and choosing columns load the page's URL again (htmx
swaps the table's region and pushes the URL), so what a user sees is always what the URL says.
Everything is read by ``RunTableService`` with the signed-in user, which checks each experiment
as getting it would (another group's experiment is answered as a missing one).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from modelyard.api.deps import services
from modelyard.api.ui import experiments
from modelyard.api.ui.deps import page_user, templates
from modelyard.api.ui.paths import safe_next
from modelyard.api.ui.runs_table_view import (
    FRAGMENT_COUNT,
    FRAGMENT_ROWS,
    PAGE_ROWS,
    TableState,
    cell,
    experiment_ids,
    run_id_param,
)
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.identity import Principal
from modelyard.domain.run_table import ATTRIBUTES, KIND_LABELS, NAME, Column, ColumnKind
from modelyard.domain.tracking import Experiment, LifecycleStage
from modelyard.services.tracking.columns import ColumnService, RunColumns
from modelyard.services.tracking.run_table import RunCount, Window

router = APIRouter(include_in_schema=False)

MAX_ROWS = 160  # rows the page keeps (a window of two pages); the DOM never holds more
LIFECYCLE_ACTIONS = {"delete": LifecycleStage.DELETED, "restore": LifecycleStage.ACTIVE}


def _announce(text: str) -> dict[str, str]:
    return {"HX-Trigger": json.dumps({"modelyard:announce": text})}


def count_text(count: RunCount) -> str:
    runs = "run" if count.matching == 1 else "runs"
    if count.exact:
        return (
            f"{count.matching:,} {runs} match" if count.matching != count.total else f"{count.total:,} {runs}"
        )
    return f"About {count.matching:,} {runs} match (estimated from {count.sampled:,} of {count.total:,} runs)"


def _filter_error(text: str) -> dict[str, Any] | None:
    """The filter's refusal and where it points: the clause that holds the mistake, split around
    the offending token (an empty token at the end when the text ended too early)."""
    error = ColumnService.check_filter(text).error
    if error is None:
        return None
    start, end = error.start, max(error.end, error.start)
    low, high = min(error.clause_start, start), max(error.clause_end, end)
    return {
        "message": error.message,
        "start": start,
        "end": end,
        "clause": error.clause,
        "before": text[:low],
        "clause_before": text[low:start],
        "bad": text[start:end],
        "clause_after": text[end:high],
        "after": text[high:],
    }


def _extremes(
    request: Request, user: Principal, state: TableState, window: Window
) -> dict[tuple[str, str], Any]:
    """(run, metric) -> (min, max) over its history, for the min and max columns on screen."""
    ranged = (ColumnKind.METRIC_MIN, ColumnKind.METRIC_MAX)
    keys = sorted({c.key for c in state.columns or () if c.kind in ranged})
    ids = [r.run.run_id for r in window.rows]
    if not keys or not ids:
        return {}
    found = services(request).charts.summaries(user, ids, keys)
    return {(m.run_id, m.key): (m.min, m.max) for m in found}


def _columns(keys: RunColumns) -> dict[str, list[Column]]:
    """What the column chooser offers."""
    return {
        "Attributes": [Column(ColumnKind.ATTRIBUTE, a) for a in ATTRIBUTES if a != NAME.key],
        "Params": [Column(ColumnKind.PARAM, k) for k in keys.params],
        "Metrics": [
            Column(kind, k)
            for k in keys.metrics
            for kind in (ColumnKind.METRIC, ColumnKind.METRIC_MIN, ColumnKind.METRIC_MAX)
        ],
        "Tags": [Column(ColumnKind.TAG, k) for k in keys.tags],
    }


def _context(request: Request, user: Principal, state: TableState) -> dict[str, Any]:
    """Everything the table's region shows."""
    svc = services(request).run_table
    found: list[Experiment] = svc.experiments_of(user, state.experiment_ids)
    keys = services(request).columns.run_columns(user, state.experiment_ids)
    state = state.with_defaults(keys.params, keys.metrics)
    error = _filter_error(state.filter) if state.filter else None
    window = Window([], False, False)
    count: RunCount | None = None
    if error is None:
        window = svc.window(user, state.query(), start=state.start, limit=PAGE_ROWS)
        if not state.filter or not window.rows:
            count = svc.count(user, state.query())
    context = {
        "state": state,
        "experiments": found,
        "experiment": found[0],
        "names": {e.experiment_id: e.name for e in found},
        "keys": keys,
        "choices": _columns(keys),
        "kind_labels": KIND_LABELS,
        "window": window,
        "filter_error": error,
        "count": count,
        "count_text": count_text(count) if count is not None else "",
        "rows_url": state.fragment(FRAGMENT_ROWS),
        "count_url": state.fragment(FRAGMENT_COUNT),
        "server_url": str(request.base_url).rstrip("/"),
        "max_rows": MAX_ROWS,
        "page_rows": PAGE_ROWS,
        "cell": cell,
        "extremes": _extremes(request, user, state, window),
        "selected": frozenset(state.selected),
        "here": state.url(),
        "name_column": NAME,
    }
    return context


def _status(request: Request, context: dict[str, Any]) -> int:
    """400 for a filter the grammar refuses, but 200 to htmx (it swaps only successes; the refusal
    is in the content, next to the search box)."""
    return 400 if context["filter_error"] and not request.headers.get("hx-request") else 200


def _headers(request: Request, context: dict[str, Any]) -> dict[str, str]:
    if request.headers.get("hx-request") and context["count_text"]:
        return _announce(context["count_text"])
    return {}


@router.get("/experiments/{experiment_id}")
def experiment_page(request: Request, experiment_id: str, user: Principal = Depends(page_user)) -> Response:
    """One experiment: its facts and forms (``experiments.render_experiment``) and its runs table."""
    state = TableState.parse(f"/experiments/{experiment_id}", (experiment_id,), request.query_params)
    context = _context(request, user, state)
    response = experiments.render_experiment(
        request, user, experiment_id, status_code=_status(request, context), **context
    )
    response.headers.update(_headers(request, context))
    return response


@router.get("/runs")
def runs_page(request: Request, user: Principal = Depends(page_user)) -> Response:
    """The runs of several experiments in one table."""
    state = TableState.parse("/runs", experiment_ids(request.query_params), request.query_params)
    context = _context(request, user, state)
    return templates(request).render(
        request,
        "runs_table/page.html",
        context,
        section="experiments",
        status_code=_status(request, context),
        headers=_headers(request, context),
    )


@router.get(FRAGMENT_ROWS)
def rows_fragment(request: Request, user: Principal = Depends(page_user)) -> Response:
    """Rows of the window after (``after``) or before (``before``) a run; the answer's
    ``X-Runs-More`` header says whether there are more that way."""
    params = request.query_params
    state = TableState.parse("/runs", experiment_ids(params), params)
    after, before = run_id_param(params, "after"), run_id_param(params, "before")
    if (after is None) == (before is None):
        raise InvalidParameter("Give one of the parameters 'after' and 'before' (a run id).")
    svc = services(request).run_table
    state = state.with_defaults([], [])
    found = svc.window(user, state.query(), after=after, before=before, limit=PAGE_ROWS)
    more = found.more_after if after else found.more_before
    context = {
        "state": state,
        "window": found,
        "names": {e.experiment_id: e.name for e in svc.experiments_of(user, state.experiment_ids)},
        "cell": cell,
        "extremes": _extremes(request, user, state, found),
        "selected": frozenset(),
    }
    headers = {"X-Runs-More": "1" if more else "0"}
    return templates(request).render(request, "runs_table/_rows.html", context, headers=headers)


@router.get(FRAGMENT_COUNT)
def count_fragment(request: Request, exact: str = "", user: Principal = Depends(page_user)) -> Response:
    params = request.query_params
    state = TableState.parse("/runs", experiment_ids(params), params)
    if state.filter and _filter_error(state.filter):
        raise InvalidParameter("The filter is not valid; fix it to count the runs it matches.")
    found = services(request).run_table.count(user, state.query(), exact=exact == "1")
    text = count_text(found)
    context = {"count": found, "count_text": text, "count_url": state.fragment(FRAGMENT_COUNT)}
    return templates(request).render(request, "runs_table/_count.html", context, headers=_announce(text))


def _back(value: str) -> str:
    """Where a lifecycle form returns: the table it was sent from, without the selection."""
    target = safe_next(value, "/experiments")
    parts = urlsplit(target)
    if parts.path != "/runs" and not parts.path.startswith("/experiments/"):
        return "/experiments"
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "sel"]
    return parts.path + (f"?{urlencode(kept)}" if kept else "")


@router.post("/runs/delete")
async def delete_runs(request: Request, user: Principal = Depends(page_user)) -> Response:
    return await _set_stage(request, user, "delete")


@router.post("/runs/restore")
async def restore_runs(request: Request, user: Principal = Depends(page_user)) -> Response:
    return await _set_stage(request, user, "restore")


async def _set_stage(request: Request, user: Principal, action: str) -> Response:
    """Delete or restore the selected runs (each through ``TrackingService``: authorized, audited)."""
    stage = LIFECYCLE_ACTIONS[action]
    form = await request.form()
    raw = form.get("runs")
    ids = [r for r in (raw if isinstance(raw, str) else "").split(",") if r]
    if not ids:
        raise InvalidParameter("Select the runs to " + action + " first (parameter 'runs' is empty).")
    if len(ids) > 200:
        raise InvalidParameter(f"Too many runs in parameter 'runs': {len(ids)}; at most 200 at once.")
    tracking = services(request).tracking
    for run_id in ids:
        await run_in_threadpool(tracking.set_run_lifecycle, user, run_id, stage)
    back = form.get("back")
    return RedirectResponse(_back(back if isinstance(back, str) else ""), status_code=303)
