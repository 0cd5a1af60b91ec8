"""The MLflow artifact routes over HTTP: the ``mlflow-artifacts`` proxy and the tracking API's
``artifacts/list``, on the real app with the real local artifact store."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Run
from modelyard.services import Services
from tests.conftest import LiveServer

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
LIST = "/api/2.0/mlflow/artifacts/list"
MiB = 1024 * 1024


def artifact_root(services: Services) -> Path:
    return Path(services.settings.artifact_uri)


def put(http: TestClient, path: str, data: bytes, prefix: str = PROXY) -> None:
    resp = http.put(f"{prefix}/{path}", content=data)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}


def new_run(services: Services) -> Run:
    return services.tracking.create_run(
        Principal.system(),
        experiment_id="0",
        user_id="u",
        start_time=1_700_000_000_000,
        tags={},
        run_name=None,
    )


# -- proxy: upload, download, delete --------------------------------------------------------------


def test_put_then_get_round_trip(http: TestClient, services: Services) -> None:
    put(http, "0/run1/artifacts/notes/readme.txt", b"hello proxy")
    stored = artifact_root(services) / "0/run1/artifacts/notes/readme.txt"
    assert stored.read_bytes() == b"hello proxy"

    resp = http.get(f"{PROXY}/0/run1/artifacts/notes/readme.txt")
    assert resp.status_code == 200
    assert resp.content == b"hello proxy"
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_ajax_mirror_serves_the_same_files(http: TestClient) -> None:
    put(http, "shared/a.json", b'{"a": 1}', prefix="/ajax-api/2.0/mlflow-artifacts/artifacts")
    resp = http.get(f"{PROXY}/shared/a.json")
    assert resp.content == b'{"a": 1}'
    assert resp.headers["content-type"] == "application/json"


def test_html_is_served_as_plain_text(http: TestClient) -> None:
    put(http, "report.html", b"<script>alert(1)</script>")
    resp = http.get(f"{PROXY}/report.html")
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.content == b"<script>alert(1)</script>"


def _chunks(total: int, digest: hashlib._Hash) -> Iterator[bytes]:
    rng = random.Random(7)
    for _ in range(total // MiB):
        block = rng.randbytes(MiB)
        digest.update(block)
        yield block


def test_large_upload_is_streamed_and_downloaded_intact(http: TestClient, services: Services) -> None:
    size = 20 * MiB
    sent = hashlib.sha256()
    resp = http.put(f"{PROXY}/big/weights.bin", content=_chunks(size, sent))
    assert resp.status_code == 200, resp.text
    assert (artifact_root(services) / "big/weights.bin").stat().st_size == size

    received = hashlib.sha256()
    with http.stream("GET", f"{PROXY}/big/weights.bin") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "application/octet-stream"
        for chunk in stream.iter_bytes():
            received.update(chunk)
    assert received.hexdigest() == sent.hexdigest()


def test_put_overwrites(http: TestClient) -> None:
    put(http, "f.txt", b"first, longer")
    put(http, "f.txt", b"second")
    assert http.get(f"{PROXY}/f.txt").content == b"second"


def test_get_missing_is_404_with_mlflow_error(http: TestClient) -> None:
    resp = http.get(f"{PROXY}/0/nope/artifacts/missing.txt")
    assert resp.status_code == 404
    assert resp.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Artifact '0/nope/artifacts/missing.txt' does not exist.",
    }


def test_get_a_directory_is_404(http: TestClient) -> None:
    put(http, "dir/f.txt", b"x")
    resp = http.get(f"{PROXY}/dir")
    assert resp.status_code == 404
    assert resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_delete_file_and_directory(http: TestClient, services: Services) -> None:
    put(http, "run/model/MLmodel", b"m")
    put(http, "run/model/data/w.bin", b"w")
    put(http, "run/keep.txt", b"k")

    resp = http.delete(f"{PROXY}/run/model")
    assert resp.status_code == 200
    assert resp.json() == {}
    assert not (artifact_root(services) / "run/model").exists()
    assert http.get(f"{PROXY}/run/keep.txt").content == b"k"

    assert http.delete(f"{PROXY}/run/keep.txt").json() == {}
    assert http.get(f"{PROXY}/run/keep.txt").status_code == 404
    # Deleting what is not there is not an error (the client may retry a delete).
    assert http.delete(f"{PROXY}/run/keep.txt").status_code == 200


def test_delete_of_the_whole_root_is_refused(http: TestClient, services: Services) -> None:
    put(http, "precious.txt", b"p")
    resp = http.delete(f"{PROXY}/")
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert (artifact_root(services) / "precious.txt").read_bytes() == b"p"


# -- traversal ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_path",
    ["..%2Fescape.txt", "a/..%2F..%2Fescape.txt", "%2E%2E/%2E%2E/escape.txt", "a%5C..%5Cescape.txt"],
)
def test_traversal_is_refused_and_nothing_is_written_outside(
    http: TestClient, services: Services, raw_path: str
) -> None:
    root = artifact_root(services)
    outside = root.parent
    before = sorted(p.name for p in outside.iterdir())

    resp = http.put(f"{PROXY}/{raw_path}", content=b"evil")
    assert resp.status_code == 400
    body = resp.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert body["message"].startswith("Invalid artifact path '")
    assert "escape.txt" in body["message"]

    assert http.get(f"{PROXY}/{raw_path}").status_code == 400
    assert http.delete(f"{PROXY}/{raw_path}").status_code == 400
    assert sorted(p.name for p in outside.iterdir()) == before
    assert not list(outside.rglob("escape.txt"))


def test_listing_traversal_is_refused(http: TestClient) -> None:
    resp = http.get(PROXY, params={"path": "../"})
    assert resp.status_code == 400
    assert resp.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Invalid artifact path '../': '..' segments are not allowed.",
    }


# -- proxy listing --------------------------------------------------------------------------------


def test_list_is_relative_to_the_requested_directory(http: TestClient) -> None:
    put(http, "0/r/artifacts/model/MLmodel", b"flavors")
    put(http, "0/r/artifacts/model/data/model.pkl", b"12345")
    put(http, "0/r/artifacts/top.txt", b"1")

    resp = http.get(PROXY, params={"path": "0/r/artifacts"})
    assert resp.status_code == 200
    assert resp.json() == {
        "files": [
            {"path": "model", "is_dir": True},
            {"path": "top.txt", "is_dir": False, "file_size": 1},
        ]
    }
    nested = http.get(PROXY, params={"path": "0/r/artifacts/model"}).json()
    assert nested == {
        "files": [
            {"path": "MLmodel", "is_dir": False, "file_size": 7},
            {"path": "data", "is_dir": True},
        ]
    }


def test_list_root_missing_and_file(http: TestClient) -> None:
    assert http.get(PROXY).json() == {}
    put(http, "a/f.txt", b"x")
    assert http.get(PROXY).json() == {"files": [{"path": "a", "is_dir": True}]}
    assert http.get(PROXY, params={"path": "nope"}).json() == {}
    # Listing a file answers empty, which is how the client tells a file from a directory.
    assert http.get(PROXY, params={"path": "a/f.txt"}).json() == {}


# -- tracking API: artifacts/list for a run -------------------------------------------------------


def test_run_artifact_list(http: TestClient, services: Services) -> None:
    run = new_run(services)
    assert run.artifact_uri == f"mlflow-artifacts:/0/{run.run_id}/artifacts"
    base = f"0/{run.run_id}/artifacts"
    put(http, f"{base}/model/MLmodel", b"abc")
    put(http, f"{base}/model/data/model.pkl", b"12345")
    put(http, f"{base}/metrics.csv", b"a,b")

    resp = http.get(LIST, params={"run_id": run.run_id})
    assert resp.status_code == 200
    assert resp.json() == {
        "root_uri": run.artifact_uri,
        "files": [
            {"path": "metrics.csv", "is_dir": False, "file_size": 3},
            {"path": "model", "is_dir": True},
        ],
    }
    nested = http.get(LIST, params={"run_id": run.run_id, "path": "model"}).json()
    assert nested["files"] == [
        {"path": "model/MLmodel", "is_dir": False, "file_size": 3},
        {"path": "model/data", "is_dir": True},
    ]
    legacy = http.get(f"/ajax-api/2.0/mlflow/artifacts/list?run_uuid={run.run_id}&path=model/data").json()
    assert legacy == {
        "root_uri": run.artifact_uri,
        "files": [{"path": "model/data/model.pkl", "is_dir": False, "file_size": 5}],
    }


def test_run_artifact_list_of_an_empty_run(http: TestClient, services: Services) -> None:
    run = new_run(services)
    assert http.get(LIST, params={"run_id": run.run_id}).json() == {"root_uri": run.artifact_uri}


def test_run_artifact_list_errors(http: TestClient, services: Services) -> None:
    missing = http.get(LIST)
    assert missing.status_code == 400
    assert missing.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Missing value for required parameter 'run_id'.",
    }
    unknown = http.get(LIST, params={"run_id": "0123456789abcdef0123456789abcdef"})
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    run = new_run(services)
    bad = http.get(LIST, params={"run_id": run.run_id, "path": "../../.."})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


# -- the official mlflow client against a live server ---------------------------------------------


@pytest.fixture
def mlflow_uri(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Fail fast instead of retrying for minutes if something is wrong.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(live_server.url)
    yield live_server.url
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


@pytest.mark.mlflow_client
def test_mlflow_client_logs_lists_and_downloads_artifacts(
    mlflow_uri: str, services: Services, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "data" / "nested").mkdir(parents=True)
    (src / "data" / "train.csv").write_text("x,y\n1,2\n")
    (src / "data" / "nested" / "deep.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    (src / "summary.txt").write_text("accuracy: 0.93\n")

    with mlflow.start_run() as active:
        mlflow.log_artifact(str(src / "summary.txt"))
        mlflow.log_artifact(str(src / "summary.txt"), artifact_path="reports")
        mlflow.log_artifacts(str(src / "data"), artifact_path="dataset")
    run_id = active.info.run_id
    assert active.info.artifact_uri == f"mlflow-artifacts:/0/{run_id}/artifacts"

    stored = artifact_root(services) / "0" / run_id / "artifacts"
    assert (stored / "summary.txt").read_text() == "accuracy: 0.93\n"
    assert (stored / "dataset" / "nested" / "deep.bin").stat().st_size == MiB

    client = mlflow.MlflowClient(tracking_uri=mlflow_uri)
    top = [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)]
    assert top == [("dataset", True, None), ("reports", True, None), ("summary.txt", False, 15)]
    # Listed by artifact URI (the proxy directly): listing a run sub-path by run id also makes the
    # client search logged models by name, which is the tracking API's business, not this test's.
    nested = mlflow.artifacts.list_artifacts(artifact_uri=f"{active.info.artifact_uri}/dataset")
    assert [(f.path, f.is_dir, f.file_size) for f in nested] == [
        ("dataset/nested", True, None),
        ("dataset/train.csv", False, 8),
    ]

    one = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="reports/summary.txt", dst_path=str(tmp_path / "one")
    )
    assert Path(one).read_text() == "accuracy: 0.93\n"

    whole = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "all")))
    downloaded = sorted(str(p.relative_to(whole)) for p in whole.rglob("*") if p.is_file())
    assert downloaded == [
        "dataset/nested/deep.bin",
        "dataset/train.csv",
        "reports/summary.txt",
        "summary.txt",
    ]
    assert (whole / "dataset" / "nested" / "deep.bin").read_bytes() == bytes(range(256)) * 4096
