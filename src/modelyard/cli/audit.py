"""``modelyard audit ...``: read the audit trail and check that nobody tampered with it."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from modelyard.cli import output

app = typer.Typer(no_args_is_help=True, help="Read and verify the audit trail.")


MAX_CHANGE_LINES = 12


def _value(value: Any) -> str:
    if value is None:
        return "null"
    return value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))


def _flat(prefix: str, value: Any) -> list[str]:
    """``prefix.key: value`` lines for what an event holds besides before/after (details, counts)."""
    if isinstance(value, dict) and value:
        return [line for k, v in value.items() for line in _flat(f"{prefix}.{k}" if prefix else str(k), v)]
    return [f"{prefix}: {_value(value)}"]


def change_lines(event: dict[str, Any]) -> list[str]:
    """The event's change, one field a line: ``predictors[main].replicas: 1 → 3``."""
    lines = []
    for d in event.get("diff") or []:
        before = "(none)" if d["change"] == "added" else _value(d["before"])
        after = "(none)" if d["change"] == "removed" else _value(d["after"])
        lines.append(f"{d['field']}: {before} → {after}")
    for key, value in (event.get("changes") or {}).items():
        if key not in ("before", "after"):
            lines.extend(_flat(key, value))
    return lines


def _changes(event: dict[str, Any]) -> str:
    lines = change_lines(event)
    if not lines:
        return output.MISSING
    shown = [output.shorten(line, 120) for line in lines[:MAX_CHANGE_LINES]]
    if len(lines) > MAX_CHANGE_LINES:
        shown.append(f"… {len(lines) - MAX_CHANGE_LINES} more (--json shows all)")
    return "\n".join(shown)


def _resource(event: dict[str, Any]) -> str:
    name, rid = event.get("resource_name"), event["resource_id"]
    if name and name != rid:
        return f"{event['resource_type']} {name} (id {rid})"
    return f"{event['resource_type']} {rid}"


@app.command("list")
def list_events(
    ctx: typer.Context,
    resource: str | None = typer.Option(
        None, "--resource", help="One resource's history, by its id or its name (e.g. a deployment's)."
    ),
    resource_type: str | None = typer.Option(None, "--resource-type", help="e.g. experiment, run, user."),
    resource_id: str | None = typer.Option(
        None, "--resource-id", help="Events of the resource with this id."
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
            resource=resource,
            user=user,
            action=action,
            since=start,
            until=end,
            limit=limit,
        )
        resources = client.admin.resources_of(events) if resource is not None else []
    if output.wants_json(ctx):
        output.print_json(events)
        return
    out = output.console()
    if len(resources) > 1:
        shown = ", ".join(
            f"{r['type']} {r['id']}" + (f" ({', '.join(r['names'])})" if r["names"] else "")
            for r in resources
        )
        out.print(
            f"[yellow]{len(resources)} resources match '{escape(resource or '')}':[/yellow] {escape(shown)}. "
            "Each event below names its resource's id; --resource-type or --resource-id ID shows one."
        )
    table = output.table("Seq", "Time", "Actor", "Resource", "Action", "Outcome", "Changes")
    for e in events:
        outcome = e["outcome"] if e["outcome"] == "success" else f"[red]{escape(e['outcome'])}[/red]"
        table.add_row(
            str(e["seq"]),
            output.format_time(e["time"]),
            escape(e["actor"]),
            escape(_resource(e)),
            escape(e["action"]),
            outcome,
            escape(_changes(e)),
        )
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
