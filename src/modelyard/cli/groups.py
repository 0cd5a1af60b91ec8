"""``modelyard groups ...``: create and list groups, manage their members and roles."""

from __future__ import annotations

import typer
from rich.markup import escape

from modelyard.cli import output
from modelyard.cli.users import RoleName

app = typer.Typer(no_args_is_help=True, help="Manage groups and their members.")


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The new group's name."),
    description: str = typer.Option("", "--description", help="What the group is for."),
) -> None:
    """Create a group (platform admins), and its default project named like it."""
    with output.reporting_errors(), output.connect(ctx) as client:
        group = client.admin.create_group(name, description)
    if output.wants_json(ctx):
        output.print_json(group)
        return
    output.console().print(
        f"Created group [bold]{escape(group['name'])}[/bold] and its default project "
        f"'{escape(group['name'])}'. Add members with `modelyard groups add-member {escape(name)} USER --role ROLE`."
    )


@app.command("list")
def list_groups(
    ctx: typer.Context,
) -> None:
    """List the groups you belong to (platform admins: all)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        groups = client.admin.list_groups()
    if output.wants_json(ctx):
        output.print_json(groups)
        return
    table = output.table("Name", "Members", "Description", "Created")
    for g in groups:
        table.add_row(
            escape(g["name"]),
            str(g["member_count"]),
            escape(output.shorten(g["description"])) or output.MISSING,
            output.format_time(g["created_at"]),
        )
    out = output.console()
    out.print(table)
    out.print(f"{len(groups)} group(s)")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The group's name."),
) -> None:
    """Show a group: its members with their roles, and its projects."""
    with output.reporting_errors(), output.connect(ctx) as client:
        group = client.admin.get_group(name)
    if output.wants_json(ctx):
        output.print_json(group)
        return
    out = output.console()
    out.print(f"[bold]Group {escape(group['name'])}[/bold]  {escape(group['description'])}")
    members = output.table("Username", "Role", "Since", title=f"Members ({group['members_count']})")
    for m in group["members"]:
        members.add_row(escape(m["username"]), m["role"], output.format_time(m["created_at"]))
    out.print(members)
    projects = output.table("Project", "Description", title=f"Projects ({group['projects_count']})")
    for p in group["projects"]:
        projects.add_row(escape(p["name"]), escape(output.shorten(p["description"])))
    out.print(projects)


def _set_role(ctx: typer.Context, group: str, username: str, role: RoleName) -> None:
    with output.reporting_errors(), output.connect(ctx) as client:
        membership = client.admin.set_member(group, username, role.value)
    if output.wants_json(ctx):
        output.print_json(membership)
        return
    output.console().print(
        f"[bold]{escape(membership['username'])}[/bold] now has the '{membership['role']}' role in group "
        f"[bold]{escape(membership['group'])}[/bold]."
    )


@app.command("add-member")
def add_member(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="The group."),
    username: str = typer.Argument(..., help="The user to add."),
    role: RoleName = typer.Option(RoleName.member, "--role", help="viewer (read), member (write) or admin."),
) -> None:
    """Add a user to a group (group admins and platform admins)."""
    _set_role(ctx, group, username, role)


@app.command("set-role")
def set_role(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="The group."),
    username: str = typer.Argument(..., help="The member."),
    role: RoleName = typer.Argument(..., help="viewer, member or admin."),
) -> None:
    """Change a member's role in a group (group admins and platform admins)."""
    _set_role(ctx, group, username, role)


@app.command("remove-member")
def remove_member(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="The group."),
    username: str = typer.Argument(..., help="The member to remove."),
) -> None:
    """Remove a user from a group (group admins and platform admins)."""
    with output.reporting_errors(), output.connect(ctx) as client:
        removed = client.admin.remove_member(group, username)
    if output.wants_json(ctx):
        output.print_json(removed)
        return
    output.console().print(
        f"Removed [bold]{escape(username)}[/bold] from group [bold]{escape(group)}[/bold]."
    )
