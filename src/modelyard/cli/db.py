"""``modelyard db upgrade``: apply database migrations."""

from __future__ import annotations

import typer

from modelyard.settings import Settings
from modelyard.storage.db import Database
from modelyard.storage.migrate import current_revision, upgrade

app = typer.Typer(no_args_is_help=True, help="Database maintenance.")


@app.command("upgrade")
def upgrade_cmd(
    backend_store_uri: str = typer.Option(None, help="Database URL (default: SQLite in the data dir)."),
) -> None:
    """Apply all pending migrations."""
    settings = Settings(backend_store_uri=backend_store_uri).resolved()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    upgrade(db)
    typer.echo(f"database at revision {current_revision(db)}: {settings.database_url}")
    db.dispose()
