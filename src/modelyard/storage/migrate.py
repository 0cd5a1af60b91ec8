"""Apply Alembic migrations programmatically (no alembic.ini needed by users)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from modelyard.storage.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate to ``revision``. On SQLite, foreign keys are off meanwhile: altering a table there means
    copying it and dropping the original, which other tables' foreign keys would refuse; the keys are
    checked after the migration instead."""
    cfg = _config()
    with db.engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        sqlite = db.is_sqlite and raw is not None
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction does this take effect
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("migration left rows that break a foreign key; rolled back")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
