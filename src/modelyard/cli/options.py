"""The options every client command takes the same way: ``--url``, ``--token``, ``--username`` and
``--json``, before the command (``modelyard --json runs list``) or after it (``modelyard runs list
--json``).

They are declared once, here, and attached to the root and to every command group and command by
``cli.group.ModelyardGroup``. Their values are not passed to the command functions: each one is kept
in the click context's ``meta`` (shared by the whole command line) as it is parsed, so the value
given last wins — after the command over before it. Commands read them with ``chosen(ctx)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer

_KEY = "modelyard.cli.options"
PANEL = "Global options (before or after the command)"


@dataclass
class Chosen:
    """What the command line said (None: not given; the client then resolves its defaults)."""

    url: str | None = None
    token: str | None = None
    username: str | None = None
    as_json: bool = False


def chosen(ctx: typer.Context) -> Chosen:
    found = ctx.meta.get(_KEY)
    if not isinstance(found, Chosen):
        found = ctx.meta[_KEY] = Chosen()
    return found


def wants_json(ctx: typer.Context) -> bool:
    return chosen(ctx).as_json


def _remember(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    if value is not None and value is not False and param.name in _FIELDS:
        setattr(chosen(ctx), _FIELDS[param.name], value)
    return value


# Parameter names of their own: click keys parsed values by name, so a command's own ``username``
# argument (``users create NAME``) would otherwise be taken for ``--username``.
_FIELDS = {
    "global_url": "url",
    "global_token": "token",
    "global_username": "username",
    "global_json": "as_json",
}


URL_HELP = (
    "Server URL (default: MODELYARD_URL, MLFLOW_TRACKING_URI if http(s), the server saved in "
    "~/.modelyard/config.json, or http://127.0.0.1:5050)."
)
TOKEN_HELP = (
    "API token (default: MODELYARD_TOKEN, MLFLOW_TRACKING_TOKEN, or the token saved by the first "
    "`modelyard server`)."
)
USERNAME_HELP = "With --token: send cube-studio's '<username>|<token>' header."
JSON_FLAG = "--json"  # a command that has it has the global options already (or its own --json)
JSON_HELP = "Print JSON (the API's documents) instead of tables and sentences."


URL = typer.Option(
    None, "--url", help=URL_HELP, expose_value=False, callback=_remember, rich_help_panel=PANEL, metavar="URL"
)
TOKEN = typer.Option(
    None,
    "--token",
    help=TOKEN_HELP,
    expose_value=False,
    callback=_remember,
    rich_help_panel=PANEL,
    metavar="TOKEN",
)
USERNAME = typer.Option(
    None,
    "--username",
    help=USERNAME_HELP,
    expose_value=False,
    callback=_remember,
    rich_help_panel=PANEL,
    metavar="NAME",
)
JSON = typer.Option(
    False, JSON_FLAG, help=JSON_HELP, expose_value=False, callback=_remember, rich_help_panel=PANEL
)


def template(
    global_url: str | None = URL,
    global_token: str | None = TOKEN,
    global_username: str | None = USERNAME,
    global_json: bool = JSON,
) -> None:
    """The signature the global options are built from (typer turns it into click parameters)."""
