"""``modelyard users ...``: create, list, disable and enable users (platform admins)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer
from rich.markup import escape

from modelyard.cli import output

app = typer.Typer(no_args_is_help=True, help="Manage users (platform admins).")


class RoleName(StrEnum):
    viewer = "viewer"
    member = "member"
    admin = "admin"


def _groups(user: dict[str, Any]) -> str:
    return ", ".join(f"{m['group']} ({m['role']})" for m in user.get("memberships", [])) or output.MISSING


@app.command("create")
def create(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="The new user's name."),
    password_prompt: bool = typer.Option(
        False, "--password-prompt", help="Ask for a password (for HTTP Basic and the UI); else token-only."
    ),
    is_admin: bool = typer.Option(False, "--admin", help="Make the user a platform admin."),
    group: str | None = typer.Option(None, "--group", help="Add the user to this group."),
    role: RoleName = typer.Option(RoleName.member, "--role", help="The role in --group."),
    display_name: str = typer.Option("", "--display-name", help="A name for people."),
    email: str = typer.Option("", "--email", help="The user's email address."),
) -> None:
    """Create a user. Give them a token with `modelyard tokens create --user NAME`."""
    password = None
    if password_prompt:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with output.reporting_errors(), output.connect(ctx) as client:
        user = client.admin.create_user(
            username,
            password=password,
            is_admin=is_admin,
            display_name=display_name,
            email=email,
            group=group,
            role=role.value if group else None,
        )
    if output.wants_json(ctx):
        output.print_json(user)
        return
    kind = "platform admin" if user["is_admin"] else "user"
    output.console().print(
        f"Created {kind} [bold]{escape(user['username'])}[/bold]; groups: {escape(_groups(user))}"
    )


@app.command("list")
def list_users(
    ctx: typer.Context,
) -> None:
    """List the users you can see (platform admins: all; others: the members of their groups)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        users = client.admin.list_users()
    if output.wants_json(ctx):
        output.print_json(users)
        return
    table = output.table("Username", "Display name", "Email", "Admin", "Disabled", "Created")
    for u in users:
        table.add_row(
            escape(u["username"]),
            escape(u["display_name"]) or output.MISSING,
            escape(u["email"]) or output.MISSING,
            output.yes_no(u["is_admin"]),
            "[red]yes[/red]" if u["disabled"] else "no",
            output.format_time(u["created_at"]),
        )
    out = output.console()
    out.print(table)
    out.print(f"{len(users)} user(s)")


def _set_disabled(ctx: typer.Context, username: str, disabled: bool) -> None:
    with output.reporting_errors(), output.connect(ctx) as client:
        user = client.admin.set_user_disabled(username, disabled)
    if output.wants_json(ctx):
        output.print_json(user)
        return
    state = "disabled: their tokens and password are refused" if disabled else "enabled"
    output.console().print(f"User [bold]{escape(username)}[/bold] {state}.")


@app.command("disable")
def disable(ctx: typer.Context, username: str = typer.Argument(..., help="The user to disable.")) -> None:
    """Disable a user: every request with their credentials is refused until enabled again."""
    _set_disabled(ctx, username, True)


@app.command("enable")
def enable(ctx: typer.Context, username: str = typer.Argument(..., help="The user to enable.")) -> None:
    """Enable a disabled user again."""
    _set_disabled(ctx, username, False)
