"""Plain SQL run straight on the driver, for the hottest write paths.

On this kind of machine SQLAlchemy spends ~0.5 ms building and compiling each ORM statement, more
than SQLite spends running it. Statements here are SQL strings with ``?`` placeholders (rewritten
to the driver's style once per dialect) executed on the session's connection, inside the
transaction the service owns.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy.orm import Session


@cache
def _sql(dialect: str, statement: str) -> str:
    """``statement`` uses ``?`` placeholders; PostgreSQL's driver (psycopg) wants ``%s``."""
    return statement if dialect == "sqlite" else statement.replace("?", "%s")


def execute(session: Session, statement: str, params: Any = ()) -> Any:
    """Run ``statement`` (one parameter tuple, or a list of them for executemany)."""
    conn = session.connection()
    return conn.exec_driver_sql(_sql(conn.dialect.name, statement), params)


def fetch_all(session: Session, statement: str, params: Any = ()) -> list[Any]:
    """Every row of a query, as the driver's tuples: for reads of many rows (tens of thousands of metric
    chunks), where building SQLAlchemy's row objects would cost several times the query."""
    conn = session.connection()
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_sql(conn.dialect.name, statement), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def dialect(session: Session) -> str:
    return session.connection().dialect.name
