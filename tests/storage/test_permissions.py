"""What the server keeps on disk is owner-only: the data dir, the SQLite database and its WAL/SHM
files, the local artifact store and what is written into it — whatever the umask, and also for an
install made before the rule (tightened at start, with a warning)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.domain.identity import Principal
from modelyard.services import build_services
from modelyard.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0: without explicit modes, everything would be created world-readable and writable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_fresh_install_is_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    data = tmp_path / "home" / "data"
    services = build_services(Settings(data_dir=data, controller=False))
    try:
        exp = services.experiments.create_experiment(Principal.system(), name="e")
        with services.artifacts.writer(f"{exp}/run/artifacts/deep/dir/model.pkl") as f:
            f.write(b"weights")
        db = data / "modelyard.db"
        assert Path(f"{db}-wal").exists()  # a write happened: SQLite made its WAL and SHM files
        assert {
            "data dir": mode(data),
            "its parent, created here": mode(data.parent),
            "database": mode(db),
            "wal": mode(Path(f"{db}-wal")),
            "shm": mode(Path(f"{db}-shm")),
            "artifact root": mode(data / "artifacts"),
            "artifact dir": mode(data / "artifacts" / exp / "run" / "artifacts" / "deep"),
            "artifact file": mode(
                data / "artifacts" / exp / "run" / "artifacts" / "deep" / "dir" / "model.pkl"
            ),
        } == {
            "data dir": 0o700,
            "its parent, created here": 0o700,
            "database": 0o600,
            "wal": 0o600,
            "shm": 0o600,
            "artifact root": 0o700,
            "artifact dir": 0o700,
            "artifact file": 0o600,
        }
    finally:
        services.close()


def test_an_existing_install_is_tightened_at_start_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    services = build_services(Settings(data_dir=data, controller=False))
    services.experiments.create_experiment(Principal.system(), name="e")
    services.close()
    db = data / "modelyard.db"
    loose = {data: 0o755, db: 0o644, Path(f"{db}-wal"): 0o664, data / "artifacts": 0o775}
    for path, loose_mode in loose.items():
        if path.exists():
            os.chmod(path, loose_mode)
    outside = tmp_path / "elsewhere.txt"  # not ours: left alone
    outside.write_text("x")
    os.chmod(outside, 0o644)

    with caplog.at_level(logging.WARNING, logger="modelyard.storage"):
        services = build_services(Settings(data_dir=data, controller=False))
    services.close()
    assert mode(data) == 0o700
    assert mode(db) == 0o600
    assert mode(data / "artifacts") == 0o700
    assert mode(outside) == 0o644
    tightened = [r.getMessage() for r in caplog.records if "Tightened" in r.getMessage()]
    assert f"Tightened the permissions of {data} from 0755 to 0700" in "\n".join(tightened)
    assert f"Tightened the permissions of {db} from 0644 to 0600" in "\n".join(tightened)
    assert f"Tightened the permissions of {data / 'artifacts'} from 0775 to 0700" in "\n".join(tightened)
    # a second start finds nothing to change and says nothing
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="modelyard.storage"):
        build_services(Settings(data_dir=data, controller=False)).close()
    assert not [r for r in caplog.records if "Tightened" in r.getMessage()]
