"""``modelyard experiments ...``: list the experiments of a server."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.markup import escape

from modelyard.cli import output
from modelyard.client import Client, ModelyardError
from modelyard.schemas import Experiment

app = typer.Typer(no_args_is_help=True, help="Browse experiments.")


class View(StrEnum):
    active = "active"
    deleted = "deleted"
    all = "all"


def resolve_experiment(client: Client, name_or_id: str) -> Experiment:
    """The experiment with this id (when it is a number) or else this name."""
    if name_or_id.isdigit():
        try:
            return client.get_experiment(name_or_id)
        except ModelyardError as exc:
            if not exc.not_found:
                raise
    found = client.get_experiment_by_name(name_or_id)
    if found is None:
        raise ModelyardError(
            f"No experiment named or numbered '{name_or_id}'; see `modelyard experiments list`.",
            error_code="RESOURCE_DOES_NOT_EXIST",
            status_code=404,
        )
    return found


@app.command("list")
def list_experiments(
    ctx: typer.Context,
    view: View = typer.Option(View.active, "--view", help="Which experiments: active, deleted or all."),
) -> None:
    """List experiments."""
    with output.reporting_errors(), output.connect(ctx) as client:
        experiments = client.search_experiments(view=view.value)
    if output.wants_json(ctx):
        output.print_json([e.to_wire() for e in experiments])
        return
    table = output.table("ID", "Name", "Stage", "Created", "Last update", "Artifact location")
    for e in experiments:
        table.add_row(
            escape(e.experiment_id),
            escape(e.name),
            e.lifecycle_stage,
            output.format_time(e.creation_time),
            output.format_time(e.last_update_time),
            escape(e.artifact_location),
        )
    out = output.console()
    out.print(table)
    out.print(f"{len(experiments)} experiment(s)")
