"""S3ArtifactStore against a real S3-protocol server: moto's server mode, run as a subprocess.

The store talks HTTP to it exactly as it would to AWS or MinIO (signing, ListObjectsV2 pagination,
multipart upload, DeleteObjects), so these tests check our use of the protocol. They do not check
AWS itself: IAM, real multipart limits, or consistency under load (see docs/storage.md).
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.services.artifacts import ArtifactService
from modelyard.storage.artifacts import ArtifactInfo, artifact_store_for
from modelyard.storage.artifacts import s3 as s3_module
from modelyard.storage.artifacts.local import LocalArtifactStore
from modelyard.storage.artifacts.s3 import S3ArtifactStore, parse_s3_uri
from tests.storage.test_artifacts_local import MiB, StoreContract, read, write, write_generated

PREFIX = "team/artifacts"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited early with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto server did not listen on port {port} within {timeout}s")


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def s3_env(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Fake credentials and the moto endpoint in the environment, isolated from the user's AWS config."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "MLFLOW_S3_IGNORE_TLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", moto_url)
    return moto_url


@pytest.fixture
def client(s3_env: str) -> Any:
    return boto3.client("s3", endpoint_url=s3_env)


@pytest.fixture
def bucket(client: Any) -> str:
    name = f"modelyard-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


class TestS3Store(StoreContract):
    @pytest.fixture(params=[PREFIX, ""], ids=["prefixed", "bucket-root"])
    def store(self, request: pytest.FixtureRequest, bucket: str) -> S3ArtifactStore:
        prefix = request.param
        return S3ArtifactStore(f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}")


@pytest.fixture
def store(bucket: str) -> S3ArtifactStore:
    return S3ArtifactStore(f"s3://{bucket}/{PREFIX}/")


def test_keys_live_under_the_prefix(store: S3ArtifactStore, client: Any, bucket: str) -> None:
    write(store, "dir/f.txt", b"x")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"{PREFIX}/dir/f.txt"]
    assert store.root_uri == f"s3://{bucket}/{PREFIX}"


def test_objects_outside_the_prefix_are_neither_listed_nor_deleted(
    store: S3ArtifactStore, client: Any, bucket: str
) -> None:
    outside = [PREFIX, f"{PREFIX}-sibling/x.txt", f"{PREFIX}.txt", "other/y.txt"]
    for key in outside:
        client.put_object(Bucket=bucket, Key=key, Body=b"not ours")
    write(store, "mine.txt", b"ours")
    assert store.list("") == [ArtifactInfo("mine.txt", False, 4)]
    store.delete("")
    remaining = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert remaining == sorted(outside)


def test_large_upload_uses_multipart(store: S3ArtifactStore, client: Any, bucket: str) -> None:
    size = 12 * MiB  # above boto3's 8 MiB multipart threshold and the 8 MiB in-memory spool
    expected = write_generated(store, "model/weights.bin", size)
    head = client.head_object(Bucket=bucket, Key=f"{PREFIX}/model/weights.bin")
    assert head["ContentLength"] == size
    assert "-" in head["ETag"]  # a multipart ETag is "<md5 of part md5s>-<number of parts>"
    from_s3 = client.get_object(Bucket=bucket, Key=f"{PREFIX}/model/weights.bin")["Body"].read()
    assert hashlib.sha256(from_s3).hexdigest() == expected


def test_content_type_is_set_from_the_file_name(store: S3ArtifactStore, client: Any, bucket: str) -> None:
    write(store, "meta/info.json", b"{}")
    write(store, "meta/MLmodel", b"flavors: {}")
    assert (
        client.head_object(Bucket=bucket, Key=f"{PREFIX}/meta/info.json")["ContentType"] == "application/json"
    )
    assert (
        client.head_object(Bucket=bucket, Key=f"{PREFIX}/meta/MLmodel")["ContentType"]
        == "application/octet-stream"
    )


def test_folder_markers_are_not_listed_as_children(store: S3ArtifactStore, client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/made-by-console/", Body=b"")
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/made-by-console/f.txt", Body=b"abc")
    assert store.list("") == [ArtifactInfo("made-by-console", True)]
    assert store.list("made-by-console") == [ArtifactInfo("made-by-console/f.txt", False, 3)]


def _spy(monkeypatch: pytest.MonkeyPatch, store: S3ArtifactStore, method: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real: Callable[..., Any] = getattr(store._client, method)

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(store._client, method, spy)
    return calls


def test_listing_follows_pagination(store: S3ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_module, "LIST_PAGE_SIZE", 2)
    for name in ("a.txt", "b.txt", "c/x", "d/y", "e.txt"):
        write(store, f"p/{name}", b"1")
    calls = _spy(monkeypatch, store, "list_objects_v2")
    assert store.list("p") == [
        ArtifactInfo("p/a.txt", False, 1),
        ArtifactInfo("p/b.txt", False, 1),
        ArtifactInfo("p/c", True),
        ArtifactInfo("p/d", True),
        ArtifactInfo("p/e.txt", False, 1),
    ]
    assert len(calls) == 3
    assert calls[1].get("ContinuationToken")


def test_delete_prefix_in_batches(
    store: S3ArtifactStore, client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "DELETE_BATCH", 2)
    for i in range(5):
        write(store, f"run/model/part-{i}", b"x")
    write(store, "run/keep.txt", b"k")
    calls = _spy(monkeypatch, store, "delete_objects")
    store.delete("run/model")
    assert [len(c["Delete"]["Objects"]) for c in calls] == [2, 2, 1]
    assert store.list("run") == [ArtifactInfo("run/keep.txt", False, 1)]
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"{PREFIX}/run/keep.txt"]


def test_missing_bucket_reads_as_not_found(s3_env: str) -> None:
    store = S3ArtifactStore(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/p")
    with pytest.raises(NotFound), store.reader("f.txt"):
        pass
    assert not store.is_file("f.txt")


def test_aws_endpoint_url_is_honoured(bucket: str, monkeypatch: pytest.MonkeyPatch, s3_env: str) -> None:
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env)
    store = S3ArtifactStore(f"s3://{bucket}/via-aws-endpoint")
    write(store, "f.txt", b"ok")
    assert read(store, "f.txt") == b"ok"


def test_registry_builds_an_s3_store(s3_env: str) -> None:
    store = artifact_store_for("s3://some-bucket/a/b/")
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix, store.root_uri) == ("some-bucket", "a/b", "s3://some-bucket/a/b")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("s3://b", ("b", "")), ("s3://b/", ("b", "")), ("s3://b/x//y/", ("b", "x/y"))],
)
def test_parse_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["s3://", "s3:///prefix", "s3://b/../escape", "gs://b/p"])
def test_parse_s3_uri_refuses_bad_uris(uri: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_s3_uri(uri)


# -- ArtifactService with S3 URIs ----------------------------------------------------------------


def test_service_gives_other_s3_roots_their_own_store(bucket: str, tmp_path: Path) -> None:
    service = ArtifactService(LocalArtifactStore(tmp_path / "default"))
    store, rel = service.store_and_path(f"s3://{bucket}/exp-7/")
    assert isinstance(store, S3ArtifactStore)
    assert (store.root_uri, rel) == (f"s3://{bucket}/exp-7", "")
    assert service.store_and_path(f"s3://{bucket}/exp-7")[0] is store
    write(store, "r/artifacts/f.txt", b"via service")
    assert read(S3ArtifactStore(f"s3://{bucket}/exp-7/r/artifacts"), "f.txt") == b"via service"


def test_service_serves_uris_under_an_s3_default_root_from_the_default_store(bucket: str) -> None:
    default = S3ArtifactStore(f"s3://{bucket}/{PREFIX}")
    service = ArtifactService(default)
    assert service.store_and_path(f"s3://{bucket}/{PREFIX}/0/r1/artifacts") == (default, "0/r1/artifacts")
    other, rel = service.store_and_path(f"s3://{bucket}/{PREFIX}-old/0")
    assert other is not default
    assert rel == ""
