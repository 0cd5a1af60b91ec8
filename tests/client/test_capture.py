"""What start_run records about the code and the environment, from a real git repository."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.client.capture import capture_code_version, capture_environment

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    _git(root, "init", "-q", "-b", "trunk")
    _git(root, "remote", "add", "origin", "https://ana:s3cret@git.example.com/team/project.git")
    (root / "train.py").write_text("print('hi')\n")
    _git(root, "add", "train.py")
    _git(root, "commit", "-q", "-m", "first")
    monkeypatch.chdir(root)
    return root


@needs_git
def test_start_run_captures_code_version(client: Client, repo: Path) -> None:
    with client.start_run(run_name="coded") as run:
        pass
    got = client.get_run(run.run_id)
    assert got.code_version is not None
    assert got.code_version.commit == _git(repo, "rev-parse", "HEAD")
    assert got.code_version.branch == "trunk"
    assert got.code_version.dirty is False
    # credentials in the remote URL never leave the machine
    assert got.code_version.repo == "https://git.example.com/team/project.git"
    assert got.data.tags["mlflow.source.git.commit"] == got.code_version.commit


@needs_git
def test_dirty_work_tree(repo: Path) -> None:
    (repo / "untracked.txt").write_text("not part of the code version")
    code = capture_code_version()
    assert code is not None and code.dirty is False
    (repo / "train.py").write_text("print('changed')\n")
    code = capture_code_version()
    assert code is not None and code.dirty is True


@needs_git
def test_repository_without_commits_or_remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "fresh"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    code = capture_code_version(root)
    assert code is not None
    assert code.commit is None
    assert code.branch == "main"
    assert Path(code.repo or "").resolve() == root.resolve()


def test_outside_a_repository_there_is_no_code_version(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    monkeypatch.chdir(tmp_path / "plain")
    assert capture_code_version() is None
    with client.start_run() as run:
        pass
    assert client.get_run(run.run_id).code_version is None


def test_start_run_captures_environment(client: Client) -> None:
    with client.start_run(capture_code=False) as run:
        pass
    env = client.get_run(run.run_id).environment
    assert env is not None
    assert env.python_version == platform.python_version()
    assert env.platform == platform.platform()
    assert env.packages["httpx"] == importlib.metadata.version("httpx")
    assert "pydantic" in env.packages


def test_environment_names_are_normalized() -> None:
    packages = capture_environment().packages
    assert all(name == name.lower() and "_" not in name for name in packages)
    assert "pydantic-settings" in packages


def test_capture_can_be_turned_off(client: Client) -> None:
    with client.start_run(capture_code=False, capture_env=False) as run:
        pass
    got = client.get_run(run.run_id)
    assert got.code_version is None and got.environment is None
