"""The ``modelyard`` command: one typer app, one module per command group.

``server`` and ``db`` run the platform in this process; every other group is a client of a running
server and reaches it only through ``modelyard.client`` (``--url`` or MODELYARD_URL says where,
``--token`` or the environment or the user's config file who is asking).
"""

from __future__ import annotations

import typer

from modelyard.cli import (
    audit,
    db,
    deploy,
    experiments,
    groups,
    logs,
    models,
    quotas,
    runs,
    serve_model,
    server,
    tokens,
    users,
)

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
        help="Server URL for client commands (default: MLFLOW_TRACKING_URI if http(s), the server saved in "
        "~/.modelyard/config.json, or http://127.0.0.1:5050).",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        help="API token for client commands (default: MODELYARD_TOKEN, MLFLOW_TRACKING_TOKEN, or the token "
        "saved by the first `modelyard server`).",
    ),
    username: str | None = typer.Option(
        None, "--username", help="With --token: send cube-studio's '<username>|<token>' header."
    ),
) -> None:
    """modelyard: a self-hosted ML lifecycle platform."""
    ctx.obj = {"url": url, "token": token, "username": username}


app.command("server")(server.server)


@app.command(
    "serve-model",
    help=f"{serve_model.SUMMARY} Its options: modelyard serve-model --help.",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def serve_model_command(ctx: typer.Context) -> None:
    # argparse parses serve-model's options (cli/serve_model.py says why)
    serve_model.main(ctx.args)


app.add_typer(db.app, name="db")
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(models.datasets_app, name="datasets")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.add_typer(groups.app, name="groups")
app.add_typer(audit.app, name="audit")
app.add_typer(deploy.app, name="deploy")
app.command("logs")(logs.logs)
app.add_typer(quotas.app, name="quotas")


def main() -> None:
    app()
