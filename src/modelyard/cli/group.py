"""The root command group: every command loaded lazily, global options on every client command.

A CLI that people run dozens of times an hour must answer at once, so the root imports no command
module: each command (group) is *lazy* — listed in ``--help`` with its summary, and its module
imported only when it is run, by module name. ``modelyard --help`` imports no client and no server
code, ``modelyard runs list`` only the ``runs`` commands and the client, and only ``server`` and
``db`` import the server side (FastAPI, SQLAlchemy, uvicorn, the app) — which the import contracts
can check, as no module imports them by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.core
import typer.main

from modelyard.cli import options

SERVER_PANEL = "Run the platform"
CLIENT_PANEL = "Client commands (talk to a server)"


@dataclass(frozen=True)
class Lazy:
    """A command (or command group) defined in ``module``.

    ``register`` adds it to a Typer app (``app.command(name)(module.function)`` or
    ``app.add_typer(module.app, name=name)``); ``summary`` is its line in ``modelyard --help`` (a test
    keeps it equal to the command's own help); ``panel`` the section of ``--help`` it is listed in;
    ``global_options``: whether it takes ``--url``, ``--token``, ``--username`` and ``--json``.
    """

    module: str
    register: Callable[[typer.Typer, Any], None]
    summary: str
    panel: str = CLIENT_PANEL
    global_options: bool = True


def _placeholder(name: str, lazy: Lazy) -> typer.core.TyperCommand:
    return typer.core.TyperCommand(name, help=lazy.summary, rich_help_panel=lazy.panel)


def load(name: str, lazy: Lazy) -> Any:
    """The real click command of ``lazy``: its module imported, built by typer like any other."""
    holder = typer.Typer(add_completion=False)
    holder.callback()(_nothing)  # a callback makes typer build a group, whatever ``register`` adds
    lazy.register(holder, importlib.import_module(lazy.module))
    group = typer.main.get_command(holder)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands[name]
    command.rich_help_panel = lazy.panel  # type: ignore[attr-defined]
    if lazy.global_options:
        _with_global_options(command, global_params())
    return command


def _nothing() -> None:
    pass


def _with_global_options(command: Any, params: list[Any]) -> None:
    """Attach the global options to ``command`` and, if it is a group, to everything under it."""
    if options.JSON_FLAG not in {opt for p in command.params for opt in getattr(p, "opts", ())}:
        command.params.extend(params)
    for sub in getattr(command, "commands", {}).values():
        _with_global_options(sub, params)


def global_params() -> list[Any]:
    """The global options as click parameters, built by typer from ``options.template``."""
    holder = typer.Typer(add_completion=False)
    holder.command()(options.template)
    return list(typer.main.get_command(holder).params)


class ModelyardGroup(typer.core.TyperGroup):
    """``lazy`` commands (name → ``Lazy``, in the order ``--help`` lists them) are listed by a
    placeholder and loaded when invoked; eager ones get the global options."""

    lazy: ClassVar[dict[str, Lazy]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        if self.commands:
            params = global_params()
            for command in self.commands.values():
                _with_global_options(command, params)
        for name, lazy in self.lazy.items():
            self.commands.setdefault(name, _placeholder(name, lazy))

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:  # type: ignore[override]
        name, command, rest = super().resolve_command(ctx, args)
        lazy = self.lazy.get(name or "")
        if lazy is not None and name is not None:
            command = load(name, lazy)
        return name, command, rest
