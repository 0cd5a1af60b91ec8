"""``modelyard audit ...``: read the audit trail and check that nobody tampered with it."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from modelyard.cli import output

app = typer.Typer(no_args_is_help=True, help="Read and verify the audit trail.")


def _changes(event: dict[str, Any]) -> str:
    changes = event.get("changes") or {}
    if not changes:
        return output.MISSING
    parts = []
    before, after = changes.get("before") or {}, changes.get("after") or {}
    for key in dict.fromkeys([*before, *after]):
        parts.append(f"{key}: {json.dumps(before.get(key))} → {json.dumps(after.get(key))}")
    for key, value in changes.items():
        if key not in ("before", "after"):
            parts.append(f"{key}: {json.dumps(value)}")
    return "; ".join(parts)


@app.command("list")
def list_events(
    ctx: typer.Context,
    resource_type: str | None = typer.Option(None, "--resource-type", help="e.g. experiment, run, user."),
    resource_id: str | None = typer.Option(
        None, "--resource-id", help="One resource's history (with --resource-type)."
    ),
    user: str | None = typer.Option(None, "--user", help="Events of this actor."),
    action: str | None = typer.Option(None, "--action", help="e.g. create, delete, set_role."),
    since: str | None = typer.Option(None, "--since", help="From this ISO date or time on."),
    until: str | None = typer.Option(None, "--until", help="Up to this ISO date or time."),
    limit: int = typer.Option(100, "--limit", min=1, help="Show at most this many events."),
) -> None:
    """List audit events, newest first (platform admins: all; group admins: their groups')."""
    start = output.parse_time(since, "--since") if since else None
    end = output.parse_time(until, "--until") if until else None
    with output.reporting_errors(), output.connect(ctx) as client:
        events = client.admin.audit_events(
            resource_type=resource_type,
            resource_id=resource_id,
            user=user,
            action=action,
            since=start,
            until=end,
            limit=limit,
        )
    if output.wants_json(ctx):
        output.print_json(events)
        return
    table = output.table("Seq", "Time", "Actor", "Resource", "Action", "Outcome", "Changes")
    for e in events:
        outcome = e["outcome"] if e["outcome"] == "success" else f"[red]{escape(e['outcome'])}[/red]"
        table.add_row(
            str(e["seq"]),
            output.format_time(e["time"]),
            escape(e["actor"]),
            escape(f"{e['resource_type']} {e['resource_id']}"),
            escape(e["action"]),
            outcome,
            escape(output.shorten(_changes(e), 160)),
        )
    out = output.console()
    out.print(table)
    out.print(f"{len(events)} event(s)")


@app.command("verify")
def verify(
    ctx: typer.Context,
) -> None:
    """Check the audit trail's hash chain (platform admins). Exit code 1 when it is broken."""
    with output.reporting_errors(), output.connect(ctx) as client:
        report = client.admin.verify_audit()
    if output.wants_json(ctx):
        output.print_json(report)
    elif report["ok"]:
        output.console().print(
            f"[green]The audit trail is intact:[/green] {report['checked']} event(s) checked."
        )
    else:
        out = output.console()
        out.print(f"[bold red]The audit trail is broken[/bold red] ({report['checked']} event(s) checked):")
        for problem in report["problems"]:
            out.print(f"  - {escape(problem)}")
    if not report["ok"]:
        raise typer.Exit(1)
