"""The ``modelyard`` command: one typer app, one module per command (group), each loaded when run.

``server`` and ``db`` run the platform in this process; ``serve-model`` runs one model (what every
deployment replica runs). Every other command is a client of a running server and reaches it only
through ``modelyard.client``; the global options (``cli.options``: ``--url``, ``--token``,
``--username``, ``--json``) say where, who is asking and how to answer, before or after the command.
Nothing here imports a command module: ``cli.group`` loads the one that is run.
"""

from __future__ import annotations

from typing import Any

import typer

from modelyard.cli import options
from modelyard.cli.group import SERVER_PANEL, Lazy, ModelyardGroup
from modelyard.version import __version__

HELP = "modelyard: a self-hosted ML lifecycle platform."


def _group(name: str) -> Any:
    def register(app: typer.Typer, module: Any) -> None:
        app.add_typer(module.app, name=name)

    return register


def _add_server(app: typer.Typer, module: Any) -> None:
    app.command("server")(module.server)


def _add_serve_model(app: typer.Typer, module: Any) -> None:
    # argparse parses serve-model's options (cli/serve_model.py says why): typer hands them over as given
    def serve_model_command(ctx: typer.Context) -> None:
        module.main(ctx.args)

    app.command(
        "serve-model",
        help=f"{module.SUMMARY} Its options: modelyard serve-model --help.",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(serve_model_command)


def _add_logs(app: typer.Typer, module: Any) -> None:
    app.command("logs")(module.logs)


def _add_datasets(app: typer.Typer, module: Any) -> None:
    app.add_typer(module.datasets_app, name="datasets")


SERVE_MODEL_SUMMARY = (
    "Serve one model over Seldon v1, Open Inference Protocol V2 and MLflow scoring, with /metrics. "
    "Its options: modelyard serve-model --help."
)


class Root(ModelyardGroup):
    lazy = {
        "server": Lazy(
            "modelyard.cli.server",
            _add_server,
            "Start the modelyard server: tracking (MLflow-compatible API), model registry, deployments and "
            "their gateway, resource API, metrics.",
            panel=SERVER_PANEL,
            global_options=False,
        ),
        "db": Lazy(
            "modelyard.cli.db",
            _group("db"),
            "Database maintenance.",
            panel=SERVER_PANEL,
            global_options=False,
        ),
        "serve-model": Lazy(
            "modelyard.cli.serve_model",
            _add_serve_model,
            SERVE_MODEL_SUMMARY,
            panel=SERVER_PANEL,
            global_options=False,
        ),
        "experiments": Lazy("modelyard.cli.experiments", _group("experiments"), "Browse experiments."),
        "runs": Lazy("modelyard.cli.runs", _group("runs"), "List, inspect and compare runs."),
        "models": Lazy("modelyard.cli.models", _group("models"), "Browse and manage the model registry."),
        "datasets": Lazy("modelyard.cli.models", _add_datasets, "Dataset versions and their lineage."),
        "deploy": Lazy(
            "modelyard.cli.deploy", _group("deploy"), "Deploy registered models as REST endpoints."
        ),
        "logs": Lazy(
            "modelyard.cli.logs",
            _add_logs,
            "Print the logs of a deployment's replicas, each line prefixed with its replica.",
        ),
        "quotas": Lazy(
            "modelyard.cli.quotas",
            _group("quotas"),
            "Group quotas for deployments (CPU, memory, GPU, count).",
        ),
        "users": Lazy("modelyard.cli.users", _group("users"), "Manage users (platform admins)."),
        "tokens": Lazy("modelyard.cli.tokens", _group("tokens"), "Manage API tokens."),
        "groups": Lazy("modelyard.cli.groups", _group("groups"), "Manage groups and their members."),
        "audit": Lazy("modelyard.cli.audit", _group("audit"), "Read and verify the audit trail."),
    }


app = typer.Typer(cls=Root, no_args_is_help=True, add_completion=False, help=HELP)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelyard {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    global_url: str | None = options.URL,
    global_token: str | None = options.TOKEN,
    global_username: str | None = options.USERNAME,
    global_json: bool = options.JSON,
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_version
    ),
) -> None:
    """modelyard: a self-hosted ML lifecycle platform."""


def main() -> None:
    app()
