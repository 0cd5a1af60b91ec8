"""``modelyard db upgrade``: apply database migrations."""

from __future__ import annotations

import json

import typer

from modelyard.cli import options
from modelyard.settings import Settings
from modelyard.storage.db import Database
from modelyard.storage.migrate import current_revision, upgrade
from modelyard.storage.permissions import private_tree_root

app = typer.Typer(no_args_is_help=True, help="Database maintenance.")


@app.command("upgrade")
def upgrade_cmd(
    ctx: typer.Context,
    backend_store_uri: str = typer.Option(None, help="Database URL (default: SQLite in the data dir)."),
    global_json: bool = options.JSON,
) -> None:
    """Apply all pending migrations."""
    settings = Settings(backend_store_uri=backend_store_uri).resolved()
    private_tree_root(settings.data_dir)  # owner-only, as the server makes it
    db = Database(settings.database_url)
    upgrade(db)
    revision, shown = current_revision(db), db.engine.url.render_as_string(hide_password=True)
    db.dispose()
    if options.wants_json(ctx):
        typer.echo(json.dumps({"revision": revision, "database": shown}))
    else:
        typer.echo(f"database at revision {revision}: {shown}")
