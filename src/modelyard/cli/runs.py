"""``modelyard runs ...``: list, show and compare runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from modelyard.cli import output
from modelyard.cli.experiments import View, resolve_experiment
from modelyard.client import Client, ModelyardError
from modelyard.schemas import Run

app = typer.Typer(no_args_is_help=True, help="List, inspect and compare runs.")

DEFAULT_EXPERIMENT = "Default"  # experiment 0, which always exists (MLflow's default too)
LIST_METRIC_COLUMNS = 3
LIST_PARAM_COLUMNS = 2
# Packages worth naming in an environment summary, when installed.
NOTABLE_PACKAGES = (
    "modelyard",
    "mlflow",
    "numpy",
    "pandas",
    "scikit-learn",
    "torch",
    "tensorflow",
    "xgboost",
    "lightgbm",
)
# Tags whose content `runs show` already prints in the info or code version sections.
SYSTEM_TAGS_SHOWN_ELSEWHERE = frozenset({"mlflow.runName", "mlflow.parentRunId", "mlflow.log-model.history"})
HISTORY_TAG = "mlflow.log-model.history"  # MLflow 2 and modelyard.log_model list a run's models in it
GIT_TAGS = frozenset({"mlflow.source.git.commit", "mlflow.source.git.branch", "mlflow.source.git.repoURL"})


def _pick_keys(runs: list[Run], kind: str, limit: int, first: list[str]) -> tuple[list[str], int]:
    keys: set[str] = set()
    for run in runs:
        keys.update(run.data.metric_values if kind == "metrics" else run.data.params)
    ordered = [k for k in first if k in keys] + sorted(keys - set(first))
    return ordered[:limit], max(0, len(ordered) - limit)


def _order_keys(order_by: list[str], kind: str) -> list[str]:
    """Keys named in ``--order-by`` (``metrics.rmse DESC`` -> ``rmse``) come first among the columns."""
    keys = []
    for clause in order_by:
        field = clause.split()[0] if clause.split() else ""
        prefix, _, key = field.partition(".")
        if prefix in (kind, kind.rstrip("s")) and key:
            keys.append(key.strip('`"'))
    return keys


@app.command("list")
def list_runs(
    ctx: typer.Context,
    *,
    experiment: str = typer.Option(
        DEFAULT_EXPERIMENT,
        "--experiment",
        "-e",
        envvar=["MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"],
        help="Experiment name or id (default: MLFLOW_EXPERIMENT_NAME, else MLFLOW_EXPERIMENT_ID, else "
        "Default, as for the mlflow client).",
    ),
    filter_string: str | None = typer.Option(
        None, "--filter", help="MLflow search filter, e.g. \"metrics.rmse < 1 and params.lr = '0.1'\"."
    ),
    order_by: list[str] | None = typer.Option(
        None, "--order-by", help="Sort, e.g. 'metrics.rmse DESC'; repeat for more keys."
    ),
    max_results: int = typer.Option(100, "--max", min=1, help="Show at most this many runs."),
    view: View = typer.Option(View.active, "--view", help="Which runs: active, deleted or all."),
) -> None:
    """List the runs of an experiment, newest first unless --order-by says otherwise."""
    orders = list(order_by or [])
    with output.reporting_errors(), output.connect(ctx) as client:
        exp = resolve_experiment(client, experiment)
        runs = client.search_runs(
            exp.experiment_id,
            filter_string=filter_string,
            order_by=orders,
            max_results=max_results,
            view=view.value,
        )
    if output.wants_json(ctx):
        output.print_json([r.to_wire() for r in runs])
        return
    metric_keys, more_metrics = _pick_keys(
        runs, "metrics", LIST_METRIC_COLUMNS, _order_keys(orders, "metrics")
    )
    param_keys, more_params = _pick_keys(runs, "params", LIST_PARAM_COLUMNS, _order_keys(orders, "params"))
    table = output.table(
        "Run ID",
        "Name",
        "Status",
        "Started",
        "Duration",
        *(escape(k) for k in metric_keys),
        *(f"param {escape(k)}" for k in param_keys),
        title=f"Runs of experiment {escape(exp.name)} (id {escape(exp.experiment_id)})",
    )
    table.columns[0].min_width = 32  # ids are for copying: never fold them
    for column in table.columns[2:5]:
        column.no_wrap = True
    for run in runs:
        values = run.data.metric_values
        table.add_row(
            run.info.run_id,
            escape(run.info.run_name),
            output.status_text(run.info.status),
            output.format_time(run.info.start_time, seconds=False),
            output.format_duration(run.info.start_time, run.info.end_time),
            *(output.format_number(values[k], 6) if k in values else output.MISSING for k in metric_keys),
            *(escape(output.shorten(run.data.params.get(k, output.MISSING), 30)) for k in param_keys),
        )
    out = output.console()
    out.print(table)
    hidden = [
        f"{n} more {kind} column(s)" for n, kind in ((more_metrics, "metric"), (more_params, "param")) if n
    ]
    note = f"; {' and '.join(hidden)} not shown (see `runs show` or `runs compare`)" if hidden else ""
    out.print(f"{len(runs)} run(s){note}")


def _kv_table(title: str, rows: Sequence[Sequence[str]], *columns: str) -> Table:
    t = output.table(*columns, title=title)
    for row in rows:
        t.add_row(*(escape(cell) for cell in row))
    return t


def _info_table(run: Run, experiment_name: str | None) -> Table:
    info = run.info
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    exp = info.experiment_id + (f" ({experiment_name})" if experiment_name else "")
    rows = [
        ("Run ID", escape(info.run_id)),
        ("Name", escape(info.run_name)),
        ("Experiment", escape(exp)),
        ("Status", output.status_text(info.status)),
        ("User", escape(info.user_id) or output.MISSING),
        ("Started", output.format_time(info.start_time)),
        ("Ended", output.format_time(info.end_time)),
        ("Duration", output.format_duration(info.start_time, info.end_time)),
        ("Lifecycle", escape(info.lifecycle_stage)),
        ("Artifact URI", escape(info.artifact_uri)),
    ]
    parent = run.data.tags.get("mlflow.parentRunId")
    if parent:
        rows.append(("Parent run", escape(parent)))
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _code_and_env(run: Run) -> list[Table]:
    parts: list[Table] = []
    code = run.code_version
    if code is not None:
        dirty = (
            output.MISSING if code.dirty is None else ("yes (uncommitted changes)" if code.dirty else "no")
        )
        rows = [
            ("Repository", code.repo or output.MISSING),
            ("Commit", code.commit or output.MISSING),
            ("Branch", code.branch or output.MISSING),
            ("Dirty", dirty),
        ]
        parts.append(_kv_table("Code version", rows, "Field", "Value"))
    env = run.environment
    if env is not None:
        notable = ", ".join(f"{p} {env.packages[p]}" for p in NOTABLE_PACKAGES if p in env.packages)
        packages = f"{len(env.packages)} installed" + (f" ({notable})" if notable else "")
        rows = [
            ("Python", env.python_version or output.MISSING),
            ("Platform", env.platform or output.MISSING),
            ("Packages", packages),
        ]
        parts.append(_kv_table("Environment", rows, "Field", "Value"))
    return parts


def _sections(run: Run, experiment_name: str | None, artifacts: list[tuple[str, str]]) -> list[Any]:
    data = run.data
    sections: list[Any] = [_info_table(run, experiment_name)]
    if data.params:
        sections.append(_kv_table("Params", sorted(data.params.items()), "Key", "Value"))
    if data.metrics:
        rows = [
            (m.key, output.format_number(m.value), str(m.step), output.format_time(m.timestamp))
            for m in sorted(data.metrics, key=lambda m: m.key)
        ]
        sections.append(_kv_table("Metrics (latest)", rows, "Key", "Value", "Step", "Logged at"))
    shown_elsewhere = SYSTEM_TAGS_SHOWN_ELSEWHERE | (
        GIT_TAGS if run.code_version is not None else frozenset()
    )
    tags = [(k, output.shorten(v)) for k, v in sorted(data.tags.items()) if k not in shown_elsewhere]
    if tags:
        sections.append(_kv_table("Tags", tags, "Key", "Value"))
    if run.inputs.dataset_inputs:
        datasets = [
            (
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                output.shorten(d.dataset.source, 60),
                d.tags.get("mlflow.data.context", output.MISSING),
            )
            for d in run.inputs.dataset_inputs
        ]
        sections.append(_kv_table("Datasets", datasets, "Name", "Digest", "Source type", "Source", "Context"))
    sections.extend(_code_and_env(run))
    if artifacts:
        sections.append(_kv_table("Artifacts", artifacts, "Path", "Size"))
    return sections


def _history_models(run: Run) -> list[dict[str, str]]:
    """Models the ``mlflow.log-model.history`` tag lists (MLflow 2, ``modelyard.log_model``)."""
    try:
        entries = json.loads(run.data.tags.get(HISTORY_TAG, "[]"))
    except json.JSONDecodeError:
        return []  # a hand-written tag: nothing to show from it
    found: dict[str, dict[str, str]] = {}
    for e in entries if isinstance(entries, list) else []:
        path = e.get("artifact_path") if isinstance(e, dict) else None
        if isinstance(path, str) and path and e.get("run_id", run.info.run_id) == run.info.run_id:
            flavors = e.get("flavors")
            found[path] = {
                "name": path,
                "source": f"runs:/{run.info.run_id}/{path}",
                "flavors": ", ".join(sorted(flavors)) if isinstance(flavors, dict) else "",
            }
    return list(found.values())


def _models_section(run: Run, logged: list[dict[str, Any]], versions: list[dict[str, Any]]) -> list[Any]:
    rows = [
        (
            m["info"].get("name", ""),
            m["info"].get("model_id", ""),
            f"models:/{m['info'].get('model_id', '')}",
            str(m["info"].get("status", "")).removeprefix("LOGGED_MODEL_").lower(),
        )
        for m in logged
    ]
    named = {r[0] for r in rows}
    rows += [
        (h["name"], output.MISSING, h["source"], output.MISSING)
        for h in _history_models(run)
        if h["name"] not in named
    ]
    sections: list[Any] = []
    if rows:
        sections.append(_kv_table("Logged models", rows, "Name", "Model ID", "Load with", "Status"))
    if versions:
        made = [
            (
                str(v.get("name", "")),
                str(v.get("version", "")),
                str(v.get("current_stage", "")),
                ", ".join(f"@{a}" for a in v.get("aliases") or []) or output.MISSING,
                str(v.get("status", "")),
                str(v.get("source", "")),
            )
            for v in versions
        ]
        sections.append(
            _kv_table("Registered versions", made, "Model", "Version", "Stage", "Aliases", "Status", "Source")
        )
    return sections


def _run_models(client: Client, run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's MLflow 3 logged models and the registered versions made from it."""
    run_id = run.info.run_id
    logged = client.search_logged_models(run.info.experiment_id, filter_string=f"source_run_id = '{run_id}'")
    return logged, client.registry.search_versions(f"run_id = '{run_id}'")


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The run's id."),
) -> None:
    """Show one run: info, params, latest metrics, tags, datasets, code version, environment, its
    logged models and the registered versions made from it, artifacts."""
    with output.reporting_errors(), output.connect(ctx) as client:
        run = client.get_run(run_id)
        try:
            logged, versions = _run_models(client, run)
        except ModelyardError as exc:
            if exc.status_code not in (404, 501):
                raise
            logged, versions = [], []  # a server without these APIs (an MLflow 2 server)
        if output.wants_json(ctx):
            output.print_json({**run.to_wire(), "logged_models": logged, "model_versions": versions})
            return
        try:
            experiment_name: str | None = client.get_experiment(run.info.experiment_id).name
            files = client.list_artifacts(run_id)
        except ModelyardError:
            experiment_name, files = None, []  # the run itself is what was asked for
    artifacts = [(f.path + ("/" if f.is_dir else ""), output.format_size(f.file_size)) for f in files]
    sections = _sections(run, experiment_name, artifacts)
    # the models go before the artifacts (the last section, when there are any)
    at = len(sections) - 1 if artifacts else len(sections)
    sections[at:at] = _models_section(run, logged, versions)
    output.console().print(Group(*sections))


def _cell(value: str | None) -> str:
    return output.MISSING if value is None else escape(output.shorten(value, 40))


def _compare_rows(runs: list[Run]) -> list[tuple[str, list[str | None]]]:
    rows: list[tuple[str, list[str | None]]] = [("status", [r.info.status for r in runs])]
    for key in sorted({k for r in runs for k in r.data.params}):
        rows.append((f"params.{key}", [r.data.params.get(key) for r in runs]))
    for key in sorted({k for r in runs for k in r.data.metric_values}):
        values = [r.data.metric_values.get(key) for r in runs]
        rows.append((f"metrics.{key}", [None if v is None else output.format_number(v) for v in values]))
    return rows


@app.command("compare")
def compare(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids."),
    only_diff: bool = typer.Option(False, "--diff", help="Show only the rows that differ."),
) -> None:
    """Compare runs side by side: params and latest metrics; rows that differ are marked with *."""
    if len(run_ids) < 2:
        output.fail("Give at least two run ids to compare.")
    with output.reporting_errors(), output.connect(ctx) as client:
        runs = [client.get_run(rid) for rid in run_ids]
    rows = _compare_rows(runs)
    differs = {key for key, values in rows if len(set(values)) > 1}
    if output.wants_json(ctx):
        output.print_json(
            {
                "runs": [{"run_id": r.info.run_id, "run_name": r.info.run_name} for r in runs],
                "rows": {key: values for key, values in rows},
                "different": [key for key, _ in rows if key in differs],
            }
        )
        return
    table = output.table("", "Key", *(f"{escape(r.info.run_name)}\n{r.info.run_id[:8]}" for r in runs))
    for key, values in rows:
        if only_diff and key not in differs:
            continue
        style = "bold yellow" if key in differs else None
        table.add_row("*" if key in differs else "", escape(key), *(_cell(v) for v in values), style=style)
    out = output.console()
    out.print(table)
    out.print(f"{len(differs)} of {len(rows)} rows differ (marked *)")
