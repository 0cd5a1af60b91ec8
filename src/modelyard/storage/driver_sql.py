"""Plain SQL run straight on the driver's cursor, for the hottest paths (run writes, reading runs).

On this kind of machine SQLAlchemy spends ~0.5 ms building and compiling each ORM statement, and
~40 µs running even a plain SQL string through ``exec_driver_sql`` (result metadata, events,
``Row`` objects), more than SQLite spends running it. Statements here are SQL strings with ``?``
placeholders (rewritten to the driver's style once per dialect), run on the DBAPI cursor of the
session's connection, inside the transaction the service owns; rows come back as plain tuples.
A driver error is raised as SQLAlchemy's exception for it (``IntegrityError`` and so on), as
``exec_driver_sql`` would raise it.

A set of ids is one parameter (``IN_IDS`` and ``ids``): a JSON array read by ``json_each`` on
SQLite, an array on PostgreSQL, so a statement's text does not change with the number of ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

IN_IDS = "IN (SELECT value FROM json_each(?))"
"""``column IN_IDS`` with ``ids(session, values)`` as its parameter: ``column`` is one of the values."""


@cache
def _sql(dialect: str, statement: str) -> str:
    """``statement`` uses ``?`` placeholders; PostgreSQL's driver (psycopg) wants ``%s``."""
    if dialect == "sqlite":
        return statement
    return statement.replace(IN_IDS, "= ANY(?)").replace("?", "%s")


class Rows:
    """The rows a statement returned, as tuples."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]


_CONNECTION = "modelyard.driver_sql.connection"


def _driver(session: Session) -> tuple[Any, Dialect]:
    """The DBAPI connection of the session's transaction, and its dialect. Kept in the session for
    the transaction's length: asking the session each time cost more than a statement on SQLite."""
    cached = session.info.get(_CONNECTION)
    transaction = session.get_transaction()
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1], cached[2]
    conn = session.connection()  # begins the transaction
    found = (session.get_transaction(), conn.connection.driver_connection, conn.dialect)
    session.info[_CONNECTION] = found
    return found[1], found[2]


def execute(session: Session, statement: str, params: Any = ()) -> Rows:
    """Run ``statement`` with one parameter tuple, or a list of them (executemany); its rows."""
    dbapi, dialect = _driver(session)
    sql = _sql(dialect.name, statement)
    cursor = dbapi.cursor()
    try:
        if isinstance(params, list):
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return Rows(cursor.fetchall() if cursor.description is not None else [])
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def ids(session: Session, values: Sequence[Any]) -> Any:
    """The parameter of an ``IN_IDS`` clause holding ``values``."""
    if dialect(session) == "sqlite":
        return orjson.dumps(list(values)).decode()
    return list(values)


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
    return session.get_bind().dialect.name
