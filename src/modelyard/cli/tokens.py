"""``modelyard tokens ...``: create, list and revoke API tokens."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.markup import escape

from modelyard.cli import output

app = typer.Typer(no_args_is_help=True, help="Manage API tokens.")


def state(token: dict[str, Any], now_ms: int) -> str:
    if token["revoked_at"]:
        return "[red]revoked[/red]"
    if token["expires_at"] and token["expires_at"] <= now_ms:
        return "[yellow]expired[/yellow]"
    return "[green]active[/green]"


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option("", "--name", help="What the token is for."),
    expires_in_days: int | None = typer.Option(
        None, "--expires-in-days", min=1, help="Expire after this many days (default: never)."
    ),
    user: str | None = typer.Option(None, "--user", help="For another user (platform admins only)."),
) -> None:
    """Create an API token. Its secret is printed this once: it cannot be shown again."""
    with output.reporting_errors(), output.connect(ctx) as client:
        token = client.admin.create_token(name=name, expires_in_days=expires_in_days, username=user)
    if output.wants_json(ctx):
        output.print_json(token)
        return
    expiry = output.format_time(token["expires_at"]) if token["expires_at"] else "never"
    out = output.console()
    out.print(
        f"Created token {token['id']} for [bold]{escape(token['username'])}[/bold] (expires: {expiry}):"
    )
    out.print(f"\n    {token['token']}\n", soft_wrap=True)
    out.print(
        "Copy it now: it is shown only this once. Use it as 'Authorization: Bearer <token>', "
        "MODELYARD_TOKEN or MLFLOW_TRACKING_TOKEN."
    )


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", help="Another user's tokens (platform admins only)."),
) -> None:
    """List your tokens (never their secrets)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        tokens = client.admin.list_tokens(user)
    if output.wants_json(ctx):
        output.print_json(tokens)
        return
    now = int(time.time() * 1000)
    table = output.table("ID", "Name", "User", "Prefix", "State", "Created", "Expires", "Last used")
    for t in tokens:
        table.add_row(
            str(t["id"]),
            escape(t["name"]) or output.MISSING,
            escape(t["username"]),
            escape(t["prefix"]) + "…",
            state(t, now),
            output.format_time(t["created_at"]),
            output.format_time(t["expires_at"]) if t["expires_at"] else "never",
            output.format_time(t["last_used_at"]),
        )
    out = output.console()
    out.print(table)
    out.print(f"{len(tokens)} token(s)")


@app.command("revoke")
def revoke(
    ctx: typer.Context, token_id: int = typer.Argument(..., help="The token's id (see `tokens list`).")
) -> None:
    """Revoke a token: it is refused from now on."""
    with output.reporting_errors(), output.connect(ctx) as client:
        token = client.admin.revoke_token(token_id)
    if output.wants_json(ctx):
        output.print_json(token)
        return
    output.console().print(
        f"Token {token['id']} ({escape(token['prefix'])}…) of {escape(token['username'])} revoked."
    )
