"""``modelyard models ...``: the model registry (list, show, versions, aliases, stages, download,
register a run's model, lineage); and ``modelyard datasets lineage``: where a dataset version went."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from modelyard.cli import output

app = typer.Typer(no_args_is_help=True, help="Browse and manage the model registry.")
datasets_app = typer.Typer(no_args_is_help=True, help="Dataset versions and their lineage.")

VERSION_HELP = "A version number, or @ALIAS (e.g. @champion)."
STAGES = ("None", "Staging", "Production", "Archived")
STAGE_STYLES = {"Production": "green", "Staging": "cyan", "Archived": "dim"}


def _stage(stage: str) -> str:
    style = STAGE_STYLES.get(stage)
    return f"[{style}]{escape(stage)}[/{style}]" if style else escape(stage)


def _aliases(aliases: Any) -> str:
    if isinstance(aliases, dict):
        return ", ".join(f"@{a}→v{v}" for a, v in sorted(aliases.items())) or output.MISSING
    return ", ".join(f"@{a}" for a in aliases or []) or output.MISSING


def _grid(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _kv(title: str, rows: Sequence[Sequence[str]], *columns: str) -> Table:
    table = output.table(*columns, title=title)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def _versions_table(versions: list[dict[str, Any]], title: str | None = None) -> Table:
    table = output.table("Version", "Stage", "Status", "Aliases", "Run ID", "Source", "Created", title=title)
    table.columns[4].min_width = 32  # ids are for copying: never fold them
    for v in versions:
        table.add_row(
            str(v["version"]),
            _stage(v["current_stage"]),
            escape(v["status"]),
            escape(_aliases(v["aliases"])),
            escape(v["run_id"] or output.MISSING),
            escape(output.shorten(v["source"], 60)),
            output.format_time(v["creation_timestamp"]),
        )
    return table


# ---- models --------------------------------------------------------------------------------------
@app.command("list")
def list_models(
    ctx: typer.Context,
    name: str | None = typer.Option(None, "--name", help="Only models whose name contains this text."),
) -> None:
    """List the registered models you can see."""
    filters = [("name", "ct", name)] if name else []
    with output.reporting_errors(), output.connect(ctx) as client:
        models = client.registry.list_models(filters)
    if output.wants_json(ctx):
        output.print_json(models)
        return
    table = output.table("Name", "Versions", "Latest", "Aliases", "Group", "Description", "Updated")
    for m in models:
        table.add_row(
            escape(m["name"]),
            str(m["version_count"]),
            output.MISSING if m["latest_version"] is None else str(m["latest_version"]),
            escape(_aliases(m["aliases"])),
            escape(str(m["group"])),
            escape(output.shorten(m["description"], 50)) or output.MISSING,
            output.format_time(m["last_updated_timestamp"]),
        )
    out = output.console()
    out.print(table)
    out.print(f"{len(models)} model(s)")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered model's name."),
) -> None:
    """Show a registered model: description, aliases, tags, latest version per stage."""
    with output.reporting_errors(), output.connect(ctx) as client:
        model = client.registry.get_model(name)
    if output.wants_json(ctx):
        output.print_json(model)
        return
    sections: list[Any] = [
        _grid(
            [
                ("Name", escape(model["name"])),
                ("Description", escape(model["description"]) or output.MISSING),
                ("Group", escape(str(model["group"]))),
                ("Created by", escape(model["user_id"]) or output.MISSING),
                ("Created", output.format_time(model["creation_timestamp"])),
                ("Updated", output.format_time(model["last_updated_timestamp"])),
                ("Versions", str(model["version_count"])),
                ("Aliases", escape(_aliases(model["aliases"]))),
            ]
        )
    ]
    if model["tags"]:
        sections.append(_kv("Tags", sorted(model["tags"].items()), "Key", "Value"))
    if model["latest_versions"]:
        sections.append(_versions_table(model["latest_versions"], "Latest version per stage"))
    output.console().print(Group(*sections))


@app.command("versions")
def versions(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered model's name."),
) -> None:
    """List a model's versions, newest first."""
    with output.reporting_errors(), output.connect(ctx) as client:
        found = client.registry.list_versions(name)
    if output.wants_json(ctx):
        output.print_json(found)
        return
    out = output.console()
    out.print(_versions_table(found, f"Versions of {escape(name)}"))
    out.print(f"{len(found)} version(s)")


@app.command("alias")
def alias(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered model's name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="The alias, e.g. champion."),
    version: str | None = typer.Argument(None, help="The version the alias should name."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
) -> None:
    """Point an alias at a version (moving it if it named another one), or remove it with --delete."""
    if delete == (version is not None):
        output.fail("Give a VERSION to set the alias to, or --delete to remove it (not both).")
    with output.reporting_errors(), output.connect(ctx) as client:
        if delete:
            client.registry.delete_alias(name, alias_name)
        else:
            client.registry.set_alias(name, alias_name, str(version))
    if output.wants_json(ctx):
        output.print_json({"name": name, "alias": alias_name, "version": None if delete else str(version)})
        return
    what = "removed" if delete else f"now names version {escape(str(version))}"
    output.console().print(f"Alias [bold]@{escape(alias_name)}[/bold] of {escape(name)} {what}.")


@app.command("stage")
def stage(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered model's name."),
    version: str = typer.Argument(..., help=VERSION_HELP),
    to: str = typer.Argument(..., metavar="STAGE", help="None, Staging, Production or Archived."),
    archive_existing: bool = typer.Option(
        False, "--archive-existing", help="Move the model's other versions in that stage to Archived."
    ),
) -> None:
    """Move a version to another stage."""
    chosen = next((s for s in STAGES if s.lower() == to.lower()), None)
    if chosen is None:
        output.fail(f"Unknown stage '{to}'; use one of {', '.join(STAGES)}.")
    with output.reporting_errors(), output.connect(ctx) as client:
        moved = client.registry.transition_stage(
            name, version, chosen, archive_existing_versions=archive_existing
        )
    if output.wants_json(ctx):
        output.print_json(moved)
        return
    output.console().print(f"{escape(name)} version {moved['version']} is now in {_stage(chosen)}.")


@app.command("download")
def download(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered model's name."),
    version: str = typer.Argument(..., help=VERSION_HELP),
    dst: Path = typer.Option(Path("."), "--dst", help="Directory to put the model's files in."),
) -> None:
    """Download a version's model directory (MLmodel and flavor files)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        number = client.registry.version_number(name, version)
        target = client.registry.download(name, number, dst / f"{name}-v{number}")
    files = sum(1 for p in target.rglob("*") if p.is_file())
    if output.wants_json(ctx):
        output.print_json({"name": name, "version": number, "path": str(target), "files": files})
        return
    output.console().print(
        f"Downloaded {escape(name)} version {number} ({files} file(s)) to [bold]{escape(str(target))}[/bold]."
    )


@app.command("register")
def register(
    ctx: typer.Context,
    run_id: str = typer.Option(..., "--run", help="The run whose logged model to register."),
    name: str = typer.Option(..., "--name", help="The registered model (created if missing)."),
    path: str | None = typer.Option(
        None, "--path", help="The model's artifact path in the run; needed when it logged several."
    ),
    description: str | None = typer.Option(None, "--description", help="The new version's description."),
) -> None:
    """Convert run to model: register the model a run logged as a new version."""
    with output.reporting_errors(), output.connect(ctx) as client:
        version = client.registry.register_from_run(run_id, name, artifact_path=path, description=description)
    if output.wants_json(ctx):
        output.print_json(version)
        return
    output.console().print(
        f"Registered [bold]{escape(version['name'])}[/bold] version {version['version']} from run "
        f"{escape(run_id)} ({escape(version['source'])}). Load it with "
        f"mlflow.pyfunc.load_model('models:/{escape(version['name'])}/{version['version']}')."
    )


# ---- lineage -------------------------------------------------------------------------------------
def _run_sections(run: dict[str, Any]) -> list[Any]:
    sections: list[Any] = [
        _grid(
            [
                ("Run ID", escape(run["run_id"])),
                ("Run name", escape(run["run_name"])),
                ("Experiment", f"{escape(run['experiment_id'])} ({escape(run['experiment_name'])})"),
                ("Status", output.status_text(run["status"])),
                ("User", escape(run["user_id"]) or output.MISSING),
                ("Started", output.format_time(run["start_time"])),
                ("Duration", output.format_duration(run["start_time"], run["end_time"])),
            ]
        )
    ]
    if run["params"]:
        shown, total = len(run["params"]), run["param_count"]
        title = "Params" + (f" ({shown} of {total})" if total > shown else "")
        sections.append(_kv(title, sorted(run["params"].items()), "Key", "Value"))
    code = run["code_version"]
    if code:
        rows = [
            (k.capitalize(), output.yes_no(v) if isinstance(v, bool) else str(v)) for k, v in code.items()
        ]
        sections.append(_kv("Code version", rows, "Field", "Value"))
    env = run["environment"]
    if env:
        notable = ", ".join(f"{p} {v}" for p, v in env["packages"].items())
        packages = f"{env['package_count']} installed" + (f" ({notable})" if notable else "")
        rows = [
            ("Python", env["python_version"] or output.MISSING),
            ("Platform", env["platform"] or output.MISSING),
            ("Packages", packages),
        ]
        sections.append(_kv("Environment", rows, "Field", "Value"))
    return sections


@app.command("lineage")
def lineage(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered model's name."),
    version: str = typer.Argument(..., help=VERSION_HELP),
) -> None:
    """Where a version came from: its run, the run's datasets, code version and environment."""
    with output.reporting_errors(), output.connect(ctx) as client:
        found = client.registry.lineage(name, version)
    if output.wants_json(ctx):
        output.print_json(found)
        return
    out = output.console()
    out.print(
        f"[bold]{escape(found['name'])}[/bold] version {found['version']}  ←  {escape(found['source'])}"
    )
    run = found["run"]
    if run is None:
        why = "it was not registered from a run" if not found["run_id"] else "you cannot see its run"
        out.print(f"No run lineage: {why}" + (f" ({escape(found['run_id'])})." if found["run_id"] else "."))
        return
    sections = _run_sections(run)
    rows = [
        (
            d["dataset_id"] or output.MISSING,
            d["name"],
            d["digest"],
            d["context"] or output.MISSING,
            d["source_type"],
            output.shorten(d["source"], 60),
        )
        for d in found["datasets"]
    ]
    if rows:
        sections.append(
            _kv("Datasets", rows, "Dataset ID", "Name", "Digest", "Context", "Source type", "Source")
        )
    else:
        sections.append("The run recorded no datasets.")
    out.print(Group(*sections))


@datasets_app.command("lineage")
def dataset_lineage(
    ctx: typer.Context,
    dataset_id: str = typer.Argument(..., help="The dataset version's id (see `modelyard runs show`)."),
) -> None:
    """Where a dataset version went: the runs that used it and the model versions registered from them."""
    with output.reporting_errors(), output.connect(ctx) as client:
        found = client.registry.dataset_lineage(dataset_id)
    if output.wants_json(ctx):
        output.print_json(found)
        return
    d = found["dataset"]
    out = output.console()
    out.print(
        _grid(
            [
                ("Dataset", f"{escape(d['name'])} (digest {escape(d['digest'])})"),
                ("ID", escape(d["dataset_uuid"])),
                ("Source", f"{escape(d['source'])} ({escape(d['source_type'])})"),
                ("Experiment", str(d["experiment_id"])),
            ]
        )
    )
    runs = output.table(
        "Run ID", "Name", "Status", "Started", title=f"Runs that used it ({len(found['runs'])})"
    )
    runs.columns[0].min_width = 32
    for r in found["runs"]:
        runs.add_row(
            escape(r["run_uuid"]),
            escape(r["name"]),
            output.status_text(r["status"]),
            output.format_time(r["start_time"]),
        )
    out.print(runs)
    versions = output.table(
        "Model",
        "Version",
        "Stage",
        "Aliases",
        "Run ID",
        title=f"Model versions ({len(found['model_versions'])})",
    )
    for v in found["model_versions"]:
        versions.add_row(
            escape(v["name"]),
            str(v["version"]),
            _stage(v["current_stage"]),
            escape(_aliases(v["aliases"])),
            escape(v["run_id"] or output.MISSING),
        )
    out.print(versions)
