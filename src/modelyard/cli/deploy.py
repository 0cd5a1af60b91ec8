"""``modelyard deploy ...``: deployments of registered models — list, show, history, delete (asks
first), client tokens; and the commands that change one (``cli.deploy_changes``: create, ``deploy
model`` (one call to staging), update, scale, stop, start, restart, rollback, promote). Everything goes
through ``client.deployments``."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from modelyard.cli import deploy_changes, output
from modelyard.cli.progress import desired, phase_text, replicas_text

app = typer.Typer(no_args_is_help=True, help="Deploy registered models as REST endpoints.")

NAME_HELP = deploy_changes.NAME_HELP


def models_of(spec: dict[str, Any]) -> str:
    return ", ".join(str(p.get("model", "")) for p in spec.get("predictors", [])) or output.MISSING


def _grid(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


# ---- create and read -------------------------------------------------------------------------------
app.command("create")(deploy_changes.create)
app.command("model")(deploy_changes.deploy_model)


@app.command("list")
def list_deployments(
    ctx: typer.Context,
    stage: str | None = typer.Option(None, "--stage", help="Only this stage."),
    group: str | None = typer.Option(None, "--group", help="Only this group."),
    phase: str | None = typer.Option(None, "--phase", help="Only this phase (e.g. Failed)."),
) -> None:
    """List the deployments you can see."""
    filters = [(c, "eq", v) for c, v in (("stage", stage), ("group", group), ("phase", phase)) if v]
    with output.reporting_errors(), output.connect(ctx) as client:
        found = client.deployments.list(filters)
    if output.wants_json(ctx):
        output.print_json(found)
        return
    table = output.table("Name", "Group", "Stage", "Phase", "Replicas", "Model", "Endpoint", "Updated")
    for d in found:
        table.add_row(
            escape(d["name"]),
            escape(str(d["group"])),
            d["stage"],
            phase_text(d["phase"]),
            f"{d['available_replicas']}/{desired(d['spec'])}",
            escape(models_of(d["spec"])),
            escape(d["endpoint"]),
            output.format_time(d["updated_at"]),
        )
    out = output.console()
    out.print(table)
    out.print(f"{len(found)} deployment(s)")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
) -> None:
    """Show a deployment: phase and why, replicas, endpoints, predictors and their models."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.get(name)
    if output.wants_json(ctx):
        output.print_json(d)
        return
    spec, status = d["spec"], d["status"]
    rows = [
        ("Name", escape(d["name"])),
        ("Group", escape(str(d["group"]))),
        ("Owner", escape(d["owner"]) or output.MISSING),
        ("Stage", d["stage"]),
        ("Phase", phase_text(status["phase"])),
        ("Message", escape(status["message"]) or output.MISSING),
        ("Replicas", replicas_text(d)),
        ("Access", spec["endpoint"]["access"]),
        *((f"Endpoint ({p})", escape(url)) for p, url in d["urls"].items()),
        ("Updated", output.format_time(d["updated_at"])),
        ("History", f"{len(d['history'])} spec(s); `modelyard deploy history {escape(d['name'])}`"),
    ]
    if d.get("promoted_from") is not None:
        source = d.get("promoted_from_name")
        rows.append(("Promoted from", escape(source) if source else "a deployment deleted since"))
    predictors = output.table("Predictor", "Model", "Version", "Replicas", "CPU", "Memory", "GPU", "Traffic")
    for p in spec["predictors"]:
        resolved = d["models"].get(p["name"], {})
        r = p["resources"]
        predictors.add_row(
            escape(p["name"]),
            escape(p["model"]),
            str(resolved.get("version") or output.MISSING),
            str(p["replicas"]),
            r["cpu"],
            r["memory"],
            str(r["gpu"]),
            f"{p['traffic']}%",
        )
    sections: list[Any] = [_grid(rows), predictors]
    if status["replicas_detail"]:
        replicas = output.table("Replica", "Predictor", "State", "Restarts", "URL", "Message")
        for r in status["replicas_detail"]:
            replicas.add_row(
                escape(r["name"]),
                escape(r["predictor"]),
                escape(r["state"]),
                str(r.get("restarts", 0)),
                escape(r.get("url") or output.MISSING),
                escape(output.shorten(r.get("message") or "", 60)),
            )
        sections.append(replicas)
    output.console().print(Group(*sections))


@app.command("history")
def history(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
) -> None:
    """The deployment's spec history, newest first (roll back with `deploy rollback NAME --to INDEX`)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        entries = client.deployments.history(name)
    if output.wants_json(ctx):
        output.print_json(entries)
        return
    table = output.table("Index", "Time", "By", "Model", "Replicas", "Stopped")
    for e in entries:
        table.add_row(
            str(e["index"]),
            output.format_time(e["time"]),
            escape(e["actor"]),
            escape(models_of(e["spec"])),
            str(sum(p["replicas"] for p in e["spec"]["predictors"])),
            output.yes_no(e["spec"]["stop"]),
        )
    output.console().print(table)


# ---- changes (cli/deploy_changes.py) ------------------------------------------------------------
for _name, _command in (
    ("update", deploy_changes.update),
    ("scale", deploy_changes.scale),
    ("stop", deploy_changes.stop),
    ("start", deploy_changes.start),
    ("restart", deploy_changes.restart),
    ("rollback", deploy_changes.rollback),
    ("promote", deploy_changes.promote),
):
    app.command(_name)(_command)


def _confirm_delete(d: dict[str, Any], yes: bool) -> None:
    """Ask before deleting: a y/N question on a terminal (``--yes`` skips it), and for a production
    deployment always the deployment's name to type, ``--yes`` or not. Without a terminal nobody can
    answer, so only ``--yes`` deletes."""
    name = d["name"]
    if not sys.stdin.isatty():
        if not yes:
            output.fail(
                f"Deleting deployment '{name}' needs a confirmation and there is no terminal to ask on: "
                "add --yes."
            )
        return
    production = d["stage"] == "production"
    if yes and not production:
        return
    what = (
        f"{d['stage']} deployment '{name}' (group {d['group']}, {replicas_text(d)}): its endpoint "
        f"{d['status']['endpoint']} goes away"
    )
    if production:
        typed = typer.prompt(f"Delete {what}. Type its name to confirm", default="", err=True)
        confirmed = typed.strip() == name
    else:
        confirmed = typer.confirm(f"Delete {what}?", default=False, err=True)
    if not confirmed:
        output.fail(f"Deployment '{name}' was not deleted.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Do not ask (needed without a terminal; production still asks on one)."
    ),
) -> None:
    """Delete a deployment: its replicas drain and stop, its endpoint goes away. Asks first."""
    with output.reporting_errors(), output.connect(ctx) as client:
        _confirm_delete(client.deployments.get(name), yes)
        d = client.deployments.delete(name)
    if output.wants_json(ctx):
        output.print_json(d)
        return
    output.console().print(
        f"Deleted deployment [bold]{escape(d['name'])}[/bold]; its replicas drain and stop in the background."
    )


@app.command("tokens")
def tokens(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    action: str = typer.Argument("list", help="list, create or revoke."),
    token_id: int | None = typer.Argument(None, help="With revoke: the token's id."),
    label: str = typer.Option("", "--label", help="With create: what the token is for."),
) -> None:
    """Client tokens of a private endpoint: list them, create one (its secret is shown once), revoke one."""
    if action not in ("list", "create", "revoke"):
        output.fail(f"Unknown tokens action '{action}': use list, create or revoke.")
    if action == "revoke" and token_id is None:
        output.fail(f"Give the token's id: `modelyard deploy tokens {name} revoke TOKEN_ID`.")
    with output.reporting_errors(), output.connect(ctx) as client:
        if action == "create":
            result: Any = client.deployments.create_token(name, label)
        elif action == "revoke":
            assert token_id is not None
            result = client.deployments.revoke_token(name, token_id)
        else:
            result = client.deployments.tokens(name)
    if output.wants_json(ctx):
        output.print_json(result)
        return
    out = output.console()
    if action == "create":
        out.print(f"Created client token {result['id']} for deployment [bold]{escape(name)}[/bold]:")
        out.print(f"\n    {result['token']}\n", soft_wrap=True)
        out.print("Copy it now: it is shown only this once. Send it as 'Authorization: Bearer <token>'.")
    elif action == "revoke":
        out.print(f"Revoked client token {token_id} of deployment [bold]{escape(name)}[/bold].")
    else:
        table = output.table("ID", "Label", "Prefix", "Created by", "Created")
        for t in result:
            table.add_row(
                str(t["id"]),
                escape(t["name"]) or output.MISSING,
                escape(t["prefix"]),
                escape(t["created_by"]),
                output.format_time(t["created_at"]),
            )
        out.print(table)
        out.print(f"{len(result)} token(s)")
