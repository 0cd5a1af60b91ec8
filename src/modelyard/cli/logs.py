"""``modelyard logs NAME``: what a deployment's replicas print (stdout and stderr, timestamped, with the
controller's lines about each replica among them), or follow it live; replicas that are gone only with
``--all``."""

from __future__ import annotations

import typer
from rich.markup import escape

from modelyard.cli import output


def logs(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The deployment's name or id."),
    replica: str | None = typer.Option(None, "--replica", help="Only this replica (see `deploy show`)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until Ctrl-C."),
    tail: int | None = typer.Option(
        None,
        "--tail",
        min=0,
        max=10_000,
        help="Lines per replica to start with (default 100; 10 with --follow).",
    ),
    all_replicas: bool = typer.Option(
        False, "--all", help="Also replicas that are gone (replaced, scaled down, failed)."
    ),
) -> None:
    """Print the logs of a deployment's replicas, each line prefixed with its replica."""
    with output.reporting_errors(), output.connect(ctx) as client:
        if not follow:
            lines = client.deployments.logs(
                name, replica=replica, tail=100 if tail is None else tail, all_replicas=all_replicas
            )
            if output.wants_json(ctx):
                output.print_json(lines)
                return
            out = output.console()
            for item in lines:
                out.print(f"[dim]\\[{escape(item['replica'])}][/dim] {escape(item['line'])}", soft_wrap=True)
            return
        out = output.console()
        try:
            for line in client.deployments.follow_logs(
                name, replica=replica, tail=10 if tail is None else tail, all_replicas=all_replicas
            ):
                if output.wants_json(ctx):  # JSON Lines: one object per line, as it comes
                    output.print_json_line({"line": line})
                else:
                    out.print(escape(line), soft_wrap=True)
        except KeyboardInterrupt:
            return
