"""``modelyard quotas ...``: what each group's deployments may take, and what they take now."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from modelyard.cli import output

app = typer.Typer(no_args_is_help=True, help="Group quotas for deployments (CPU, memory, GPU, count).")

UNLIMITED = "unlimited"


def _limit(value: Any) -> str:
    return UNLIMITED if value is None else str(value)


@app.command("show")
def show(
    ctx: typer.Context,
    group: str | None = typer.Argument(None, help="One group (default: every group you belong to)."),
) -> None:
    """Show groups' quotas next to their current usage."""
    with output.reporting_errors(), output.connect(ctx) as client:
        found = [client.quotas.get(group)] if group else client.quotas.list()
    if output.wants_json(ctx):
        output.print_json(found if group is None else found[0])
        return
    table = output.table("Group", "CPU", "Memory", "GPU", "Deployments", "Deploying allowed")
    for item in found:
        quota, usage = item["quota"], item["usage"]
        table.add_row(
            escape(item["group"]),
            *(f"{usage[key]} / {_limit(quota[key])}" for key in ("cpu", "memory", "gpu", "deployments")),
            output.yes_no(quota["deployments_enabled"]),
        )
    out = output.console()
    out.print(table)
    out.print("Usage / quota per group; a stopped deployment counts only as a deployment.")


@app.command("set")
def set_quota(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="The group."),
    cpu: str | None = typer.Option(None, "--cpu", help="CPU cores, e.g. 4 or 500m ('none': unlimited)."),
    memory: str | None = typer.Option(None, "--memory", help="Memory, e.g. 8Gi ('none': unlimited)."),
    gpu: str | None = typer.Option(None, "--gpu", help="GPUs ('none': unlimited)."),
    deployments: str | None = typer.Option(None, "--deployments", help="Deployments ('none': unlimited)."),
    enabled: bool | None = typer.Option(
        None, "--enable-deployments/--disable-deployments", help="Allow the group to deploy models at all."
    ),
) -> None:
    """Set a group's quotas (platform admins); limits not given keep their values."""
    limits: dict[str, Any] = {}
    for key, raw in (("cpu", cpu), ("memory", memory), ("gpu", gpu), ("deployments", deployments)):
        if raw is None:
            continue
        if raw.lower() == "none":
            limits[key] = None
        elif key in ("gpu", "deployments"):
            if not raw.isdigit():
                output.fail(f"--{key}: expected a whole number or 'none', got '{raw}'.")
            limits[key] = int(raw)
        else:
            limits[key] = raw
    if enabled is not None:
        limits["deployments_enabled"] = enabled
    if not limits:
        output.fail(
            "Nothing to set: give --cpu, --memory, --gpu, --deployments or --enable/--disable-deployments."
        )
    with output.reporting_errors(), output.connect(ctx) as client:
        item = client.quotas.set(group, **limits)
    if output.wants_json(ctx):
        output.print_json(item)
        return
    quota = item["quota"]
    output.console().print(
        f"Quotas of group [bold]{escape(item['group'])}[/bold]: cpu {_limit(quota['cpu'])}, memory "
        f"{_limit(quota['memory'])}, gpu {_limit(quota['gpu'])}, deployments {_limit(quota['deployments'])}, "
        f"deploying {'enabled' if quota['deployments_enabled'] else 'disabled'}."
    )
