"""Shared fixtures: a real database per test (SQLite by default, PostgreSQL when
MODELYARD_TEST_DATABASE_URL is set), the real app, and a real uvicorn server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from modelyard.api.app import create_app
from modelyard.services import Services, build_services
from modelyard.settings import Settings
from modelyard.storage.db import Database
from modelyard.storage.migrate import upgrade
from modelyard.storage.orm import Base
from modelyard.storage.seed import ensure_defaults

DB_ENV = "MODELYARD_TEST_DATABASE_URL"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database, made once per worker: a SQLite file to copy, or a PostgreSQL database."""
    base_url = os.environ.get(DB_ENV)
    if not base_url:
        path = tmp_path_factory.mktemp("template") / "modelyard.db"
        db = Database(f"sqlite:///{path}")
        upgrade(db)
        db.dispose()
        yield str(path)
        return
    url = make_url(base_url)
    name = f"{url.database}_{_worker()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    worker_url = url.set(database=name).render_as_string(hide_password=False)
    db = Database(worker_url)
    upgrade(db)
    db.dispose()
    yield worker_url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_database(template: str, tmp_path: Path) -> str:
    if not template.startswith("postgresql"):
        target = tmp_path / "modelyard.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    db = Database(template)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.write() as session:
        session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        ensure_defaults(session)
    db.dispose()
    return template


@pytest.fixture
def settings(tmp_path: Path, database_template: str) -> Settings:
    url = _fresh_database(database_template, tmp_path)
    return Settings(
        data_dir=tmp_path / "data",
        backend_store_uri=url,
        artifact_root=str(tmp_path / "artifacts"),
        migrate_on_start=False,
    ).resolved()


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = build_services(settings)
    yield svc
    svc.close()


@pytest.fixture
def app(settings: Settings, services: Services) -> FastAPI:
    return create_app(settings, services)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    """An in-process HTTP client on the real app (no network), for API tests."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The real app served by uvicorn on a loopback port, for tests that drive real clients."""
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()
