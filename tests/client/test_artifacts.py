"""Artifacts through the client and the server's artifact proxy: files, directories, big files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.client import Client, ModelyardError


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def run_id(client: Client) -> str:
    return client.create_run().info.run_id


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A directory of our own: the server's database and artifacts also live under tmp_path."""
    path = tmp_path / "work"
    path.mkdir()
    return path


def test_file_upload_list_download(client: Client, run_id: str, work: Path) -> None:
    src = work / "metrics.json"
    src.write_text('{"auc": 0.9}')
    client.log_artifact(run_id, src)
    client.log_artifact(run_id, src, "reports/v1")

    root = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir, f.file_size) for f in root] == [
        ("metrics.json", False, 12),
        ("reports", True, None),
    ]
    nested = client.list_artifacts(run_id, "reports/v1")
    assert [f.path for f in nested] == ["reports/v1/metrics.json"]

    got = client.download_artifacts(run_id, "reports/v1/metrics.json", work / "out")
    assert got == work / "out" / "metrics.json"
    assert got.read_text() == '{"auc": 0.9}'


def test_directory_round_trip(client: Client, run_id: str, work: Path) -> None:
    data = work / "data"
    (data / "sub" / "deeper").mkdir(parents=True)
    (data / "a.txt").write_text("alpha")
    (data / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (data / "sub" / "deeper" / "c.csv").write_text("x,y\n1,2\n")
    client.log_artifact(run_id, data)  # the directory keeps its name
    client.log_artifacts(run_id, data, "flat")  # the directory's contents go straight under "flat"

    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [("data", True), ("flat", True)]
    assert [f.path for f in client.list_artifacts(run_id, "data")] == ["data/a.txt", "data/sub"]

    everything = client.download_artifacts(run_id, dst_path=work / "all")
    assert everything == work / "all"
    expected = _tree(data)
    assert _tree(everything / "data") == expected
    assert _tree(everything / "flat") == expected

    sub = client.download_artifacts(run_id, "data/sub", work / "one")
    assert sub == work / "one" / "sub"
    assert _tree(sub) == {"b.bin": bytes(range(256)), "deeper/c.csv": b"x,y\n1,2\n"}


def test_large_binary_file_streams_intact(client: Client, run_id: str, work: Path) -> None:
    blob = os.urandom(5 * 1024 * 1024 + 17)
    (work / "model.bin").write_bytes(blob)
    client.log_artifact(run_id, work / "model.bin", "model")
    assert client.list_artifacts(run_id, "model")[0].file_size == len(blob)
    got = client.download_artifacts(run_id, "model/model.bin")  # into a fresh temporary directory
    assert got.read_bytes() == blob


def test_reupload_replaces(client: Client, run_id: str, work: Path) -> None:
    f = work / "notes.txt"
    f.write_text("one")
    client.log_artifact(run_id, f)
    f.write_text("two, longer")
    client.log_artifact(run_id, f)
    assert client.download_artifacts(run_id, "notes.txt", work / "o").read_text() == "two, longer"


def test_missing_local_path(client: Client, run_id: str, work: Path) -> None:
    with pytest.raises(FileNotFoundError):
        client.log_artifact(run_id, work / "nope")


def test_missing_remote_artifact(client: Client, run_id: str, work: Path) -> None:
    with pytest.raises(ModelyardError) as info:
        client.download_artifacts(run_id, "nope.txt", work)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert info.value.status_code == 404
    assert not list(work.iterdir())  # no partial file left behind
