"""The ``modelyard`` command: one typer app, one module per command group.

``server`` and ``db`` run the platform in this process; every other group is a client of a running
server and reaches it only through ``modelyard.client`` (``--url`` or MODELYARD_URL says where).
"""

from __future__ import annotations

import typer

from modelyard.cli import db, experiments, runs, server

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="modelyard: a self-hosted ML lifecycle platform."
)


@app.callback()
def root(
    ctx: typer.Context,
    url: str | None = typer.Option(
        None,
        "--url",
        envvar="MODELYARD_URL",
        help="Server URL for client commands (default http://127.0.0.1:5050).",
    ),
) -> None:
    """modelyard: a self-hosted ML lifecycle platform."""
    ctx.obj = {"url": url}


app.command("server")(server.server)
app.add_typer(db.app, name="db")
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")


def main() -> None:
    app()
