"""`modelyard server` start-up decisions and `modelyard db upgrade`, without serving forever."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from modelyard.cli.main import app
from modelyard.cli.server import announce_first_admin, is_loopback
from modelyard.services.container import prepare_storage
from modelyard.settings import Settings
from modelyard.storage.migrate import head_revision


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'm.db'}"
    result = CliRunner().invoke(app, ["db", "upgrade", "--backend-store-uri", url])
    assert result.exit_code == 0, result.output
    assert f"database at revision {head_revision()}" in result.output
    engine = create_engine(url)
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM experiments"))}
    engine.dispose()
    assert names == {"Default"}


def test_no_auth_is_refused_on_a_public_address(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["server", "--no-auth", "--host", "0.0.0.0", "--data-dir", str(tmp_path), "--port", "1"]
    )
    assert result.exit_code == 2
    assert "Refusing to serve without authentication on 0.0.0.0" in result.output
    assert not (tmp_path / "modelyard.db").exists()  # refused before touching anything


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.1.1", "localhost", "::1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.0.0.1", "example.org", "::"))


def test_first_start_creates_the_admin_once_and_saves_its_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data", port=6123).resolved()
    prepare_storage(settings)
    announce_first_admin(settings)
    shown = capsys.readouterr().out
    config_file = Path(os.environ["MODELYARD_CONFIG"])
    saved = json.loads(config_file.read_text())
    entry = saved["servers"]["http://127.0.0.1:6123"]
    assert entry["username"] == "admin"
    assert entry["token"] in shown  # shown once...
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600  # ...and stored for this user only
    assert saved["default_url"] == "http://127.0.0.1:6123"

    announce_first_admin(settings)  # a second start creates nothing and prints nothing
    assert capsys.readouterr().out == ""
    assert json.loads(config_file.read_text()) == saved
