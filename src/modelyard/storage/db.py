"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode so readers never wait for the writer. Write transactions start with
``BEGIN IMMEDIATE``: a deferred transaction that later needs the write lock can fail at once with
"database is locked" (its busy handler is skipped to avoid deadlock), which would lose a write; an
immediate one waits up to ``busy_timeout`` instead. Inside one process, writers also queue on a lock,
which is fairer and faster than SQLite's sleeping busy handler. The database file and its WAL and SHM
files are owner-only (``storage.permissions``).
"""

from __future__ import annotations

import logging
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

log = logging.getLogger("modelyard.storage")

SQLITE_BUSY_TIMEOUT_MS = 60_000
# SQLite copies the WAL back into the database every this many pages (4 KiB each) at a commit, in the
# committing request; the server's background checkpointer (``WalCheckpointer``) keeps the WAL far
# below it, so this is only the bound for processes that run none (the CLI, scripts, tests).
SQLITE_AUTOCHECKPOINT_PAGES = 10_000


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
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
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

    def checkpoint(self) -> tuple[int, int] | None:
        """Copy what the SQLite WAL holds back into the database file, without waiting for readers or
        writers (a PASSIVE checkpoint): (frames in the WAL, frames copied); None on PostgreSQL."""
        if not self.is_sqlite:
            return None
        raw = self._read_engine.raw_connection()
        try:
            _, frames, copied = raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()  # type: ignore[union-attr]
        finally:
            raw.close()
        return int(frames), int(copied)

    def dispose(self) -> None:
        self._write_engine.dispose()
        self._read_engine.dispose()


class WalCheckpointer:
    """Checkpoints a SQLite database's WAL every ``interval_s`` on a thread of its own.

    Left to SQLite, a checkpoint runs inside whichever commit passes the WAL's size limit: that
    request copies megabytes back into the database and syncs the file, a stall every dozen run
    creations. Here the copying happens beside the requests instead (a passive checkpoint waits for
    no one, and the WAL is reused from its start once all of it is copied). Does nothing on PostgreSQL.
    """

    def __init__(self, db: Database, *, interval_s: float = 0.5) -> None:
        self.db = db
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.db.is_sqlite:
            self._thread = threading.Thread(target=self._run, name="modelyard-wal-checkpoint", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.db.checkpoint()
            except Exception:  # the next tick tries again; meanwhile SQLite's own limit holds
                log.exception("could not checkpoint the database's WAL")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
