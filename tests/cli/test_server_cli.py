"""`modelyard server` start-up decisions and `modelyard db upgrade`, without serving forever."""

from __future__ import annotations

import io
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


def test_db_upgrade_makes_the_data_dir_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "fresh" / "data"
    monkeypatch.setenv("MODELYARD_DATA_DIR", str(data))
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "modelyard.db").stat().st_mode) == 0o600


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


def test_a_second_installation_does_not_take_over_the_clis_default_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 item 9: the config keeps one entry per server URL; a new server becomes the default
    only if there is none, or if a person at a terminal says so."""
    first = Settings(data_dir=tmp_path / "one", port=6123).resolved()
    prepare_storage(first)
    announce_first_admin(first)
    capsys.readouterr()
    config_file = Path(os.environ["MODELYARD_CONFIG"])
    first_token = json.loads(config_file.read_text())["servers"]["http://127.0.0.1:6123"]["token"]

    second = Settings(data_dir=tmp_path / "two", port=6124).resolved()  # not on a terminal: no question
    prepare_storage(second)
    announce_first_admin(second)
    shown = capsys.readouterr().out
    saved = json.loads(config_file.read_text())
    assert saved["default_url"] == "http://127.0.0.1:6123"
    assert saved["servers"]["http://127.0.0.1:6123"]["token"] == first_token
    assert saved["servers"]["http://127.0.0.1:6124"]["token"] in shown
    assert (
        "The CLI's default server stays http://127.0.0.1:6123; reach this one with `modelyard --url "
        "http://127.0.0.1:6124 ...` or `export MODELYARD_URL=http://127.0.0.1:6124` (its token is saved "
        "for that URL)." in shown
    )

    # at a terminal the user is asked; the default answer keeps the current server
    monkeypatch.setattr("modelyard.cli.server._interactive", lambda: True)
    for answer, port, default in (
        ("\n", 6125, "http://127.0.0.1:6123"),
        ("y\n", 6126, "http://127.0.0.1:6126"),
    ):
        monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        settings = Settings(data_dir=tmp_path / str(port), port=port).resolved()
        prepare_storage(settings)
        announce_first_admin(settings)
        asked = capsys.readouterr().out
        assert (
            f"The CLI's default server is http://127.0.0.1:6123. Make this one (http://127.0.0.1:{port}) the "
            "default instead? [y/N]" in asked
        )
        assert json.loads(config_file.read_text())["default_url"] == default
