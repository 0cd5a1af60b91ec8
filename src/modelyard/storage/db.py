"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode so readers never wait for the writer. Write transactions start with
``BEGIN IMMEDIATE``: a deferred transaction that later needs the write lock can fail at once with
"database is locked" (its busy handler is skipped to avoid deadlock), which would lose a write; an
immediate one waits up to ``busy_timeout`` instead. Inside one process, writers also queue on a lock,
which is fairer and faster than SQLite's sleeping busy handler. The database file and its WAL and SHM
files are owner-only (``storage.permissions``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from modelyard.storage import audit
from modelyard.storage.permissions import private_sqlite

SQLITE_BUSY_TIMEOUT_MS = 60_000


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        private_sqlite(Path(parsed.database).expanduser())
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # on the driver: through SQLAlchemy's execution path this statement cost a quarter of an
        # empty transaction
        dbapi = conn.connection.driver_connection
        try:
            dbapi.execute(begin)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(begin, (), exc, sqlite3.Error) from exc

    return engine


class Database:
    """Owns the engines. ``read()`` and ``write()`` each yield a session whose transaction the caller owns."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self._write_engine = _sqlite_engine(url, immediate=True)
            self._read_engine = _sqlite_engine(url, immediate=False)
        else:
            self._write_engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self._read_engine = self._write_engine
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # audit events recorded during a write transaction join the chain just before it commits
        event.listen(self._write_sessions, "before_commit", audit.append_queued)

    @property
    def dialect(self) -> str:
        return self._write_engine.dialect.name

    @property
    def engine(self) -> Engine:
        return self._write_engine

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction, committed when the block exits cleanly."""
        if self._write_lock is not None:
            with self._write_lock, self._write_sessions.begin() as session:
                yield session
        else:
            with self._write_sessions.begin() as session:
                yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self._write_engine.dispose()
        self._read_engine.dispose()
