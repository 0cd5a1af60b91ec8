"""``modelyard deploy ...``: deployments of registered models — create, list, show, scale, update,
stop, start, roll back, history, promote, delete, client tokens, and ``deploy model`` (one call to
staging). Everything goes through ``client.deployments``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from modelyard.cli import output
from modelyard.client import Client
from modelyard.client.deployments import predictor_patch

app = typer.Typer(no_args_is_help=True, help="Deploy registered models as REST endpoints.")

PHASE_STYLES = {
    "Deployed": "green",
    "Deploying": "cyan",
    "Stopping": "yellow",
    "Stopped": "dim",
    "Failed": "red",
}
MODEL_HELP = "models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN_ID/PATH."
JSON_HELP = "Print JSON."


def phase_text(phase: str) -> str:
    style = PHASE_STYLES.get(phase)
    return f"[{style}]{escape(phase)}[/{style}]" if style else escape(phase)


def desired(spec: dict[str, Any]) -> int:
    return 0 if spec.get("stop") else sum(int(p.get("replicas", 0)) for p in spec.get("predictors", []))


def models_of(spec: dict[str, Any]) -> str:
    return ", ".join(str(p.get("model", "")) for p in spec.get("predictors", [])) or output.MISSING


def _spec_file(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"--spec-file {path}: not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"--spec-file {path}: expected a JSON object of spec fields.")
    return data


def _wait(client: Client, name: str, timeout: float) -> dict[str, Any]:
    with output.console().status(f"Waiting for deployment {name} ..."):
        found = client.deployments.wait(name, timeout=timeout)
    if found["status"]["phase"] == "Failed":
        output.fail(f"Deployment '{name}' failed: {found['status']['message']}")
    return found


def _summary(d: dict[str, Any], verb: str) -> None:
    status = d["status"]
    out = output.console()
    out.print(
        f"{verb} deployment [bold]{escape(d['name'])}[/bold] ({d['stage']}, group {escape(str(d['group']))}): "
        f"{phase_text(status['phase'])} {status['available_replicas']}/{desired(d['spec'])} replica(s) "
        f"available. {escape(status['message'])}"
    )
    if d.get("urls"):
        out.print(f"Endpoint: {escape(d['urls']['seldon'])}", soft_wrap=True)


def _grid(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


# ---- create and read -------------------------------------------------------------------------------
@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name (lowercase letters, digits, '-')."),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    replicas: int = typer.Option(1, "--replicas", min=0, help="Replicas of the model."),
    stage: str = typer.Option("staging", "--stage", help="staging, or production (group admins)."),
    group: str | None = typer.Option(None, "--group", help="The group (default: your only one)."),
    cpu: str | None = typer.Option(None, "--cpu", help="CPU per replica, e.g. 500m or 2 (default 500m)."),
    memory: str | None = typer.Option(None, "--memory", help="Memory per replica, e.g. 512Mi (default)."),
    private: bool = typer.Option(False, "--private", help="Require a client token to call the endpoint."),
    spec_file: Path | None = typer.Option(None, "--spec-file", help="A JSON file with the whole spec."),
    wait: bool = typer.Option(False, "--wait", help="Wait until it is Deployed (or Failed)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds --wait waits at most."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create a deployment of a model version (or of a whole spec with --spec-file)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        spec = _spec_file(spec_file)
        if spec is None and model is None:
            output.fail("Give --model models:/NAME/VERSION (or --spec-file FILE).")
        d = client.deployments.create(
            name,
            model=model,
            replicas=replicas,
            stage=stage,
            group=group,
            cpu=cpu,
            memory=memory,
            private=private,
            spec=spec,
        )
        if wait:
            d = {**_wait(client, name, timeout), "urls": d["urls"]}
    if as_json:
        output.print_json(d)
        return
    _summary(d, "Created")


@app.command("model")
def deploy_model(
    ctx: typer.Context,
    model: str = typer.Argument(..., help=MODEL_HELP),
    name: str | None = typer.Option(None, "--name", help="The deployment's name (default: from the model)."),
    group: str | None = typer.Option(None, "--group", help="The group (default: your only one)."),
    wait: bool = typer.Option(False, "--wait", help="Wait until it is Deployed (or Failed)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds --wait waits at most."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Deploy a model to staging in one step: one replica, your group."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.deploy(model, name=name, group=group)
        if wait:
            d = {**_wait(client, d["name"], timeout), "urls": d["urls"]}
    if as_json:
        output.print_json(d)
        return
    _summary(d, "Deployed")


@app.command("list")
def list_deployments(
    ctx: typer.Context,
    stage: str | None = typer.Option(None, "--stage", help="Only this stage."),
    group: str | None = typer.Option(None, "--group", help="Only this group."),
    phase: str | None = typer.Option(None, "--phase", help="Only this phase (e.g. Failed)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the deployments you can see."""
    filters = [(c, "eq", v) for c, v in (("stage", stage), ("group", group), ("phase", phase)) if v]
    with output.reporting_errors(), output.connect(ctx) as client:
        found = client.deployments.list(filters)
    if as_json:
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
    name: str = typer.Argument(..., help="The deployment's name or id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a deployment: phase and why, replicas, endpoints, predictors and their models."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.get(name)
    if as_json:
        output.print_json(d)
        return
    spec, status = d["spec"], d["status"]
    rows = [
        ("Name", f"{escape(d['name'])} (id {d['id']})"),
        ("Group", escape(str(d["group"]))),
        ("Owner", escape(d["owner"]) or output.MISSING),
        ("Stage", d["stage"]),
        ("Phase", phase_text(status["phase"])),
        ("Message", escape(status["message"]) or output.MISSING),
        ("Replicas", f"{status['available_replicas']} available of {desired(spec)} wanted"),
        ("Access", spec["endpoint"]["access"]),
        *((f"Endpoint ({p})", escape(url)) for p, url in d["urls"].items()),
        ("Updated", output.format_time(d["updated_at"])),
        ("History", f"{len(d['history'])} spec(s); `modelyard deploy history {escape(d['name'])}`"),
    ]
    if d.get("promoted_from"):
        rows.append(("Promoted from", f"deployment {d['promoted_from']}"))
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
    name: str = typer.Argument(..., help="The deployment's name or id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The deployment's spec history, newest first (roll back with `deploy rollback NAME --to INDEX`)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        entries = client.deployments.history(name)
    if as_json:
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


# ---- changes ---------------------------------------------------------------------------------------
@app.command("update")
def update(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name or id."),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    replicas: int | None = typer.Option(None, "--replicas", min=0, help="Replicas of the predictor."),
    cpu: str | None = typer.Option(None, "--cpu", help="CPU per replica."),
    memory: str | None = typer.Option(None, "--memory", help="Memory per replica."),
    predictor: str | None = typer.Option(
        None, "--predictor", help="Which predictor (default: the only one)."
    ),
    spec_file: Path | None = typer.Option(None, "--spec-file", help="A JSON file of spec fields to change."),
    access: str | None = typer.Option(None, "--access", help="public or private."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Change a deployment's spec: model version, replicas, resources (rolled out surge-first)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        patch = _spec_file(spec_file) or {}
        if model is not None or replicas is not None or cpu or memory:
            current = client.deployments.get(name)["spec"]
            patch["predictors"] = predictor_patch(
                current, model=model, replicas=replicas, cpu=cpu, memory=memory, predictor=predictor
            )
        if access is not None:
            patch["endpoint"] = {"access": access}
        if not patch:
            output.fail(
                "Nothing to change: give --model, --replicas, --cpu, --memory, --access or --spec-file."
            )
        d = client.deployments.update(name, patch)
    if as_json:
        output.print_json(d)
        return
    _summary(d, "Updated")


@app.command("scale")
def scale(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name or id."),
    replicas: int = typer.Argument(..., help="How many replicas."),
    predictor: str | None = typer.Option(
        None, "--predictor", help="Which predictor (default: the only one)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Set the number of replicas."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.scale(name, replicas, predictor=predictor)
    if as_json:
        output.print_json(d)
        return
    _summary(d, "Scaled")


@app.command("stop")
def stop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name or id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Stop every replica; the endpoint stays and answers 503 until the deployment is started."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.stop(name)
    if as_json:
        output.print_json(d)
        return
    _summary(d, "Stopped")


@app.command("start")
def start(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name or id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Start a stopped deployment again."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.start(name)
    if as_json:
        output.print_json(d)
        return
    _summary(d, "Started")


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name or id."),
    to: int = typer.Option(
        1, "--to", min=0, help="History index to restore (1: the spec before the last change)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Restore an earlier spec from the deployment's history."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.rollback(name, to)
    if as_json:
        output.print_json(d)
        return
    _summary(d, f"Rolled back (to history {to})")


@app.command("promote")
def promote(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The staging deployment's name or id."),
    target: str = typer.Option(..., "--name", help="The new production deployment's name."),
    replicas: int | None = typer.Option(None, "--replicas", min=0, help="Replicas in production."),
    cpu: str | None = typer.Option(None, "--cpu", help="CPU per replica in production."),
    memory: str | None = typer.Option(None, "--memory", help="Memory per replica in production."),
    private: bool | None = typer.Option(None, "--private/--public", help="Endpoint access in production."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Promote a staging deployment to a new production one (group admins), with its own copy of the
    model files that later registry changes cannot alter."""
    with output.reporting_errors(), output.connect(ctx) as client:
        overrides: dict[str, Any] = {}
        if replicas is not None or cpu or memory:
            current = client.deployments.get(name)["spec"]
            overrides["predictors"] = predictor_patch(current, replicas=replicas, cpu=cpu, memory=memory)
        if private is not None:
            overrides["endpoint"] = {"access": "private" if private else "public"}
        d = client.deployments.promote(name, target, overrides)
    if as_json:
        output.print_json(d)
        return
    _summary(d, f"Promoted {escape(name)} to production as")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name or id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete a deployment: its replicas drain and stop, its endpoint goes away."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.delete(name)
    if as_json:
        output.print_json(d)
        return
    output.console().print(f"Deleted deployment [bold]{escape(d['name'])}[/bold] (id {d['id']}).")


@app.command("tokens")
def tokens(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name or id."),
    action: str = typer.Argument("list", help="list, create or revoke."),
    token_id: int | None = typer.Argument(None, help="With revoke: the token's id."),
    label: str = typer.Option("", "--label", help="With create: what the token is for."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
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
    if as_json:
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
