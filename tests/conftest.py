"""Shared fixtures: a real database per test (SQLite by default, PostgreSQL when
MODELYARD_TEST_DATABASE_URL is set), the real app, and a real uvicorn server on loopback."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from modelyard.api.app import create_app
from modelyard.controller.backends.local.processes import exists
from modelyard.domain.identity import Principal
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
    # host and pid keep two test runs on one server (two checkouts, CI and a developer) apart
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    name = f"{url.database}_{_worker()}_{host}_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for stale in _abandoned_databases(conn, f"{url.database}_", host):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    worker_url = url.set(database=name).render_as_string(hide_password=False)
    db = Database(worker_url)
    upgrade(db)
    db.dispose()
    yield worker_url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _abandoned_databases(conn: Connection, prefix: str, host: str) -> list[str]:
    """This machine's test databases of runs that were killed before they could drop them: their
    process is gone."""
    names = conn.execute(
        text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"), {"p": prefix}
    )
    out = []
    for (name,) in names:
        rest, _, pid = name.rpartition("_")
        if rest.endswith(f"_{host}") and pid.isdigit() and not exists(int(pid)):
            out.append(name)
    return out


def _fresh_database(template: str, tmp_path: Path) -> str:
    if not template.startswith("postgresql"):
        target = tmp_path / "modelyard.db"
        shutil.copyfile(template, target)
        target.chmod(0o600)  # as the server makes it (else it would tighten it, with a warning)
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
        controller=False,  # deployment tests turn the controller on (it would only add noise elsewhere)
    ).resolved()


@pytest.fixture(autouse=True)
def _isolated_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write the developer's ~/.modelyard/config.json, nor pick up their tokens."""
    monkeypatch.setenv("MODELYARD_CONFIG", str(tmp_path / "user-config.json"))
    for name in ("MODELYARD_TOKEN", "MODELYARD_URL", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = build_services(settings)
    yield svc
    svc.close()


@pytest.fixture
def admin_token(services: Services) -> str:
    """The token of the platform admin that the first server start creates."""
    _, token = services.identity.bootstrap_admin()
    return token


@pytest.fixture
def admin(services: Services, admin_token: str) -> Principal:
    return services.identity.authenticate_token(admin_token)


@pytest.fixture
def app(settings: Settings, services: Services) -> FastAPI:
    return create_app(settings, services)


@pytest.fixture
def http(app: FastAPI, admin_token: str) -> Iterator[TestClient]:
    """An in-process HTTP client on the real app (no network), authenticated as the platform admin."""
    with TestClient(app, raise_server_exceptions=False, headers=auth_header(admin_token)) as client:
        yield client


@pytest.fixture
def anonymous_http(app: FastAPI) -> Iterator[TestClient]:
    """An in-process HTTP client that sends no credentials."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class UserCreds:
    username: str
    token: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return auth_header(self.token)


@pytest.fixture
def make_user(services: Services, admin: Principal) -> Callable[..., UserCreds]:
    """Create a user (and their group, if new) with a role in it; returns their credentials."""

    def make(
        username: str, *, group: str | None = None, role: str = "member", is_admin: bool = False
    ) -> UserCreds:
        password = f"{username}-password"
        if group is not None and group not in {g.name for g in services.identity.list_groups(admin)}:
            services.identity.create_group(admin, name=group)
        services.identity.create_user(
            admin, username=username, password=password, is_admin=is_admin, group=group, role=role
        )
        _, token = services.identity.create_token(admin, username=username, name="test")
        return UserCreds(username, token, password)

    return make


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
def live_server(app: FastAPI, admin_token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The real app served by uvicorn on a loopback port, for tests that drive real clients.

    Clients configured from the environment (mlflow, modelyard.Client, the CLI) act as the admin.
    """
    server = LiveServer(app)
    server.start()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", admin_token)
    monkeypatch.setenv("MODELYARD_TOKEN", admin_token)
    yield server
    server.stop()
