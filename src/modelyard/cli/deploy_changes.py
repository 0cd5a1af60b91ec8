"""The ``modelyard deploy`` commands that change a deployment: create, model, update, scale, stop,
start, restart, rollback and promote (``cli.deploy`` registers them).

Each one sends its change and then, unless ``--no-wait``, waits until the controller has rolled it out,
showing the progress (``cli.progress``); it exits with 1 when the deployment ends ``Failed`` or is still
changing after ``--timeout`` seconds. The result goes to stdout: what was done and the state reached,
or with ``--json`` the deployment as the API answers it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from modelyard.cli import output, progress
from modelyard.client import Client
from modelyard.client.deployments import predictor_patch

MODEL_HELP = "models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN_ID/PATH."
NAME_HELP = "The deployment's name or id."
WAIT = typer.Option(
    True,
    "--wait/--no-wait",
    help="Wait until the change is rolled out (Deployed, or Stopped), showing progress; exit 1 if the "
    "deployment fails. --no-wait: return at once.",
)
TIMEOUT = typer.Option(
    progress.DEFAULT_TIMEOUT_S,
    "--timeout",
    min=0.0,
    help="Seconds to wait at most; then exit 1 (the rollout goes on).",
)
PREDICTOR = typer.Option(None, "--predictor", help="Which predictor (default: the only one).")


def spec_file(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"--spec-file {path}: not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"--spec-file {path}: expected a JSON object of spec fields.")
    return data


def _where(d: dict[str, Any]) -> str:
    return f"({d['stage']}, group {escape(str(d['group']))})"


def changed(
    ctx: typer.Context, client: Client, d: dict[str, Any], said: str, *, wait: bool, timeout: float
) -> None:
    """Say what was done, wait for the rollout unless told not to, then print the state it reached."""
    as_json = output.wants_json(ctx)
    out = output.console()
    if not as_json:
        out.print(said)
    if wait:
        d = {**progress.wait(client, d["name"], timeout), "urls": d.get("urls")}
    if as_json:
        output.print_json(d)
    if d["status"]["phase"] == "Failed":
        progress.failed(d)
    if as_json:
        return
    out.print(progress.state_line(d))
    if not wait:
        out.print(f"Follow it with `modelyard deploy show {escape(d['name'])}`.")
    if d.get("urls") and not d["spec"].get("stop"):
        out.print(f"Endpoint: {escape(d['urls']['seldon'])}", soft_wrap=True)


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
    spec_path: Path | None = typer.Option(None, "--spec-file", help="A JSON file with the whole spec."),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
) -> None:
    """Create a deployment of a model version (or of a whole spec with --spec-file)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        spec = spec_file(spec_path)
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
        said = f"Created deployment [bold]{escape(d['name'])}[/bold] {_where(d)}."
        changed(ctx, client, d, said, wait=wait, timeout=timeout)


def deploy_model(
    ctx: typer.Context,
    model: str = typer.Argument(..., help=MODEL_HELP),
    name: str | None = typer.Option(None, "--name", help="The deployment's name (default: from the model)."),
    group: str | None = typer.Option(None, "--group", help="The group (default: your only one)."),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
) -> None:
    """Deploy a model to staging in one step: one replica, your group."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.deploy(model, name=name, group=group)
        said = f"Created deployment [bold]{escape(d['name'])}[/bold] {_where(d)} of {escape(model)}."
        changed(ctx, client, d, said, wait=wait, timeout=timeout)


def update(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    replicas: int | None = typer.Option(None, "--replicas", min=0, help="Replicas of the predictor."),
    cpu: str | None = typer.Option(None, "--cpu", help="CPU per replica."),
    memory: str | None = typer.Option(None, "--memory", help="Memory per replica."),
    predictor: str | None = PREDICTOR,
    spec_path: Path | None = typer.Option(None, "--spec-file", help="A JSON file of spec fields to change."),
    access: str | None = typer.Option(None, "--access", help="public or private."),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
) -> None:
    """Change a deployment's spec: model version, replicas, resources (rolled out surge-first)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        patch = spec_file(spec_path) or {}
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
        said = f"Updated deployment [bold]{escape(d['name'])}[/bold]."
        changed(ctx, client, d, said, wait=wait, timeout=timeout)


def scale(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    replicas: int = typer.Argument(..., help="How many replicas."),
    predictor: str | None = PREDICTOR,
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
) -> None:
    """Set the number of replicas."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.scale(name, replicas, predictor=predictor)
        said = f"Scaling deployment [bold]{escape(d['name'])}[/bold] to {replicas} replica(s)."
        changed(ctx, client, d, said, wait=wait, timeout=timeout)


def stop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
) -> None:
    """Stop every replica; the endpoint stays and answers 503 until the deployment is started."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.stop(name)
        said = f"Stopping deployment [bold]{escape(d['name'])}[/bold]: its replicas drain."
        changed(ctx, client, d, said, wait=wait, timeout=timeout)


def start(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
) -> None:
    """Start a stopped deployment again; on a Failed one, try again (its replicas restart)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        before = client.deployments.get(name)["status"]["phase"]
        d = client.deployments.start(name)
        verb = "Retrying the failed" if before == "Failed" else "Starting"
        said = f"{verb} deployment [bold]{escape(d['name'])}[/bold]."
        changed(ctx, client, d, said, wait=wait, timeout=timeout)


def restart(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    predictor: str | None = typer.Option(None, "--predictor", help="Only this predictor's replicas."),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
) -> None:
    """Replace every replica with a new one, surge-first, with the same spec: retries a Failed
    deployment, or rolls a healthy one's replicas (like `kubectl rollout restart`)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.restart(name, predictor=predictor)
        which = f"predictor {escape(predictor)} of " if predictor else ""
        said = f"Restarting {which}deployment [bold]{escape(d['name'])}[/bold]: new replicas replace the old ones."
        changed(ctx, client, d, said, wait=wait, timeout=timeout)


def rollback(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    to: int = typer.Option(
        1, "--to", min=0, help="History index to restore (1: the spec before the last change)."
    ),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
) -> None:
    """Restore an earlier spec from the deployment's history."""
    with output.reporting_errors(), output.connect(ctx) as client:
        d = client.deployments.rollback(name, to)
        said = f"Rolled back deployment [bold]{escape(d['name'])}[/bold] to history entry {to}."
        changed(ctx, client, d, said, wait=wait, timeout=timeout)


def promote(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The staging deployment's name or id."),
    target: str = typer.Option(..., "--name", help="The new production deployment's name."),
    replicas: int | None = typer.Option(None, "--replicas", min=0, help="Replicas in production."),
    cpu: str | None = typer.Option(None, "--cpu", help="CPU per replica in production."),
    memory: str | None = typer.Option(None, "--memory", help="Memory per replica in production."),
    private: bool | None = typer.Option(None, "--private/--public", help="Endpoint access in production."),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
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
        said = (
            f"Promoted {escape(name)} to production as deployment [bold]{escape(d['name'])}[/bold] "
            f"{_where(d)}."
        )
        changed(ctx, client, d, said, wait=wait, timeout=timeout)
