"""LocalArtifactStore, and ``StoreContract``: the behaviour every artifact store must share.

``test_artifacts_s3.py`` runs the same contract against S3 (a moto server); a new store gets it by
subclassing ``StoreContract`` with a ``store`` fixture.
"""

from __future__ import annotations

import hashlib
import os
import random
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.tracking import Run
from modelyard.services.artifacts import ArtifactService
from modelyard.storage.artifacts import ArtifactInfo, ArtifactStore, artifact_store_for
from modelyard.storage.artifacts.local import TEMP_PREFIX, LocalArtifactStore

MiB = 1024 * 1024


def write(store: ArtifactStore, path: str, data: bytes) -> None:
    with store.writer(path) as f:
        f.write(data)


def read(store: ArtifactStore, path: str) -> bytes:
    return b"".join(store.iter_bytes(path))


def write_generated(store: ArtifactStore, path: str, total: int, chunk: int = MiB) -> str:
    """Write ``total`` pseudo-random bytes chunk by chunk; return their sha256."""
    rng = random.Random(42)
    digest = hashlib.sha256()
    with store.writer(path) as f:
        for _ in range(total // chunk):
            block = rng.randbytes(chunk)
            digest.update(block)
            f.write(block)
    return digest.hexdigest()


class StoreContract:
    """Behaviour shared by every ArtifactStore. Subclasses provide a ``store`` fixture (an empty store)."""

    def test_round_trip(self, store: ArtifactStore) -> None:
        write(store, "a/b.txt", b"hello artifacts")
        assert read(store, "a/b.txt") == b"hello artifacts"
        with store.reader("a/b.txt") as f:
            assert f.read(5) == b"hello"
        assert store.is_file("a/b.txt")
        assert not store.is_file("a")
        assert not store.is_file("a/missing.txt")

    def test_overwrite_replaces_content(self, store: ArtifactStore) -> None:
        write(store, "model.pkl", b"old version, longer than the new one")
        write(store, "model.pkl", b"new")
        assert read(store, "model.pkl") == b"new"
        assert store.list("") == [ArtifactInfo("model.pkl", False, 3)]

    def test_large_file_is_streamed_in_both_directions(self, store: ArtifactStore) -> None:
        size = 20 * MiB
        expected = write_generated(store, "big/weights.bin", size)
        digest = hashlib.sha256()
        chunks = 0
        for chunk in store.iter_bytes("big/weights.bin", chunk_size=MiB):
            assert len(chunk) <= MiB
            digest.update(chunk)
            chunks += 1
        assert digest.hexdigest() == expected
        assert chunks >= 20
        assert store.list("big") == [ArtifactInfo("big/weights.bin", False, size)]

    def test_failed_write_publishes_nothing(self, store: ArtifactStore) -> None:
        write(store, "keep.txt", b"original")
        with pytest.raises(RuntimeError, match="boom"), store.writer("keep.txt") as f:
            f.write(b"half of the new")
            raise RuntimeError("boom")
        with pytest.raises(RuntimeError, match="boom"), store.writer("new.txt") as f:
            f.write(b"never visible")
            raise RuntimeError("boom")
        assert read(store, "keep.txt") == b"original"
        assert not store.is_file("new.txt")
        assert store.list("") == [ArtifactInfo("keep.txt", False, 8)]

    def test_list_nested_directories(self, store: ArtifactStore) -> None:
        write(store, "a.txt", b"1")
        write(store, "dir/b.txt", b"22")
        write(store, "dir/sub/c.bin", b"333")
        write(store, "dir/sub/deeper/d", b"4444")
        assert store.list("") == [ArtifactInfo("a.txt", False, 1), ArtifactInfo("dir", True)]
        assert store.list("dir") == [ArtifactInfo("dir/b.txt", False, 2), ArtifactInfo("dir/sub", True)]
        assert store.list("dir/sub/") == [
            ArtifactInfo("dir/sub/c.bin", False, 3),
            ArtifactInfo("dir/sub/deeper", True),
        ]
        assert store.list("./dir//sub/deeper") == [ArtifactInfo("dir/sub/deeper/d", False, 4)]

    def test_list_of_missing_directory_or_of_a_file_is_empty(self, store: ArtifactStore) -> None:
        write(store, "dir/file.txt", b"x")
        assert store.list("nope") == []
        assert store.list("dir/file.txt") == []

    def test_delete_file(self, store: ArtifactStore) -> None:
        write(store, "dir/one.txt", b"1")
        write(store, "dir/two.txt", b"2")
        store.delete("dir/one.txt")
        assert store.list("dir") == [ArtifactInfo("dir/two.txt", False, 1)]

    def test_delete_tree_spares_siblings_with_the_same_prefix(self, store: ArtifactStore) -> None:
        write(store, "run/model/MLmodel", b"m")
        write(store, "run/model/data/weights.bin", b"w")
        write(store, "run/model2/MLmodel", b"other")
        write(store, "run/model.txt", b"note")
        store.delete("run/model")
        assert store.list("run") == [
            ArtifactInfo("run/model.txt", False, 4),
            ArtifactInfo("run/model2", True),
        ]
        assert not store.is_file("run/model/data/weights.bin")
        assert read(store, "run/model2/MLmodel") == b"other"

    def test_delete_missing_is_not_an_error(self, store: ArtifactStore) -> None:
        store.delete("never/written")
        assert store.list("") == []

    def test_delete_root_empties_the_store(self, store: ArtifactStore) -> None:
        write(store, "x/y.txt", b"1")
        write(store, "z.txt", b"2")
        store.delete("")
        assert store.list("") == []
        write(store, "again.txt", b"still usable")
        assert read(store, "again.txt") == b"still usable"

    def test_missing_file_raises_not_found(self, store: ArtifactStore) -> None:
        write(store, "dir/present.txt", b"x")
        with (
            pytest.raises(NotFound, match=r"'dir/absent\.txt' does not exist"),
            store.reader("dir/absent.txt"),
        ):
            pass
        with pytest.raises(NotFound):
            read(store, "dir")

    @pytest.mark.parametrize("bad", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "a\\b", "a\x00b"])
    def test_paths_that_could_escape_are_refused(self, store: ArtifactStore, bad: str) -> None:
        with pytest.raises(InvalidParameter, match="Invalid artifact path"), store.writer(bad):
            pass
        with pytest.raises(InvalidParameter), store.reader(bad):
            pass
        with pytest.raises(InvalidParameter):
            store.list(bad)
        with pytest.raises(InvalidParameter):
            store.delete(bad)

    def test_writing_to_the_root_itself_is_refused(self, store: ArtifactStore) -> None:
        with pytest.raises(InvalidParameter, match="path is required"), store.writer(""):
            pass


class TestLocalStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalArtifactStore:
        return LocalArtifactStore(tmp_path / "root")

    def test_write_is_invisible_until_the_block_exits(self, store: LocalArtifactStore) -> None:
        target = store.root / "d" / "f.bin"
        with store.writer("d/f.bin") as f:
            f.write(b"partial")
            assert not target.exists()
            temps = [p.name for p in target.parent.iterdir()]
            assert len(temps) == 1
            assert temps[0].startswith(TEMP_PREFIX)  # same directory, so the rename is atomic
            assert store.list("d") == []  # half-written files are hidden
        assert target.read_bytes() == b"partial"
        assert [p.name for p in target.parent.iterdir()] == ["f.bin"]

    def test_failed_write_removes_its_temporary_file(self, store: LocalArtifactStore) -> None:
        with pytest.raises(OSError, match="disk"), store.writer("d/f.bin") as f:
            f.write(b"x")
            raise OSError("disk full")
        assert list((store.root / "d").iterdir()) == []

    def test_written_files_and_directories_are_owner_only(self, store: LocalArtifactStore) -> None:
        write(store, "f.txt", b"x")
        write(store, "a/b/g.txt", b"x")
        assert stat.S_IMODE((store.root / "f.txt").stat().st_mode) == 0o600
        assert stat.S_IMODE((store.root / "a/b/g.txt").stat().st_mode) == 0o600
        assert stat.S_IMODE((store.root / "a").stat().st_mode) == 0o700
        assert stat.S_IMODE((store.root / "a/b").stat().st_mode) == 0o700

    def test_file_where_a_directory_is_is_refused(self, store: LocalArtifactStore) -> None:
        write(store, "d/inner.txt", b"x")
        with pytest.raises(InvalidParameter, match="a directory of that name exists"), store.writer("d"):
            pass
        with pytest.raises(InvalidParameter, match="parent of that path is a file"):
            with store.writer("d/inner.txt/child"):
                pass
        assert read(store, "d/inner.txt") == b"x"

    def test_symlinks_cannot_lead_outside_the_root(self, store: LocalArtifactStore, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_bytes(b"secret")
        store.root.mkdir(parents=True, exist_ok=True)
        (store.root / "link").symlink_to(outside, target_is_directory=True)
        (store.root / "file-link").symlink_to(outside / "secret.txt")
        write(store, "ok.txt", b"fine")

        with pytest.raises(InvalidParameter, match="resolves outside the artifact root"):
            read(store, "link/secret.txt")
        with pytest.raises(InvalidParameter), store.reader("file-link"):
            pass
        with pytest.raises(InvalidParameter), store.writer("link/planted.txt") as f:
            f.write(b"x")
        with pytest.raises(InvalidParameter):
            store.list("link")
        with pytest.raises(InvalidParameter):
            store.delete("link/secret.txt")
        with pytest.raises(InvalidParameter):
            store.is_file("file-link")
        # Escaping links are not listed, and nothing outside was touched.
        assert store.list("") == [ArtifactInfo("ok.txt", False, 4)]
        assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
        assert (outside / "secret.txt").read_bytes() == b"secret"

    def test_symlinks_inside_the_root_are_followed(self, store: LocalArtifactStore) -> None:
        write(store, "real/f.txt", b"data")
        (store.root / "alias").symlink_to(store.root / "real", target_is_directory=True)
        assert read(store, "alias/f.txt") == b"data"

    def test_delete_root_keeps_the_root_directory(self, store: LocalArtifactStore) -> None:
        write(store, "a/b.txt", b"x")
        store.delete("")
        assert store.root.is_dir()
        assert list(store.root.iterdir()) == []

    def test_from_uri_and_registry(self, tmp_path: Path) -> None:
        by_uri = artifact_store_for(f"file://{tmp_path}/r")
        by_path = artifact_store_for(str(tmp_path / "r"))
        assert isinstance(by_uri, LocalArtifactStore)
        assert isinstance(by_path, LocalArtifactStore)
        assert by_uri.root == by_path.root == (tmp_path / "r").resolve()
        write(by_uri, "x.txt", b"shared")
        assert read(by_path, "x.txt") == b"shared"

    def test_root_given_relative_is_resolved(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        store = LocalArtifactStore(Path("rel-root"))
        assert store.root == tmp_path.resolve() / "rel-root"
        assert store.root_uri == str(store.root)
        write(store, "f", b"1")
        assert os.path.isfile(tmp_path / "rel-root" / "f")


# -- ArtifactService: resolving URIs and streaming (local stores; S3 URIs in test_artifacts_s3.py) ----


@pytest.fixture
def default_store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "default")


@pytest.fixture
def service(default_store: LocalArtifactStore) -> ArtifactService:
    return ArtifactService(default_store)


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("mlflow-artifacts:/0/abc/artifacts", "0/abc/artifacts"),
        ("mlflow-artifacts://localhost:5050/0/abc/artifacts/", "0/abc/artifacts"),
        ("mlflow-artifacts:/models/m-1/artifacts/my%20model", "models/m-1/artifacts/my model"),
        ("mlflow-artifacts:/", ""),
    ],
)
def test_proxied_uris_resolve_to_the_default_store(service: ArtifactService, uri: str, path: str) -> None:
    store, rel = service.store_and_path(uri)
    assert store is service.default_store
    assert rel == path


def test_proxied_uri_cannot_escape(service: ArtifactService) -> None:
    with pytest.raises(InvalidParameter, match=r"'\.\.' segments"):
        service.store_and_path("mlflow-artifacts:/0/../../etc")


def test_local_uris_get_their_own_cached_store(service: ArtifactService, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere dir"
    store, rel = service.store_and_path(other.as_uri())  # file:///.../elsewhere%20dir
    assert isinstance(store, LocalArtifactStore)
    assert (store.root, rel) == (other.resolve(), "")
    assert service.store_and_path(str(other))[0] is store
    assert service.store_and_path(f"{other}/")[0] is store


def test_local_uris_under_the_default_root_use_the_default_store(
    service: ArtifactService, default_store: LocalArtifactStore
) -> None:
    assert service.store_and_path(f"{default_store.root}/0/r1/artifacts") == (default_store, "0/r1/artifacts")
    assert service.store_and_path(f"file://{default_store.root}") == (default_store, "")
    # A sibling whose name merely starts with the root's name is not under it.
    sibling, rel = service.store_and_path(f"{default_store.root}-backup/x")
    assert sibling is not default_store
    assert rel == ""


def test_relative_locations_resolve_against_the_working_directory(
    service: ArtifactService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store, _ = service.store_and_path("mlruns/1")
    assert isinstance(store, LocalArtifactStore)
    assert store.root == tmp_path.resolve() / "mlruns" / "1"


def test_unsupported_schemes_are_refused(service: ArtifactService) -> None:
    with pytest.raises(InvalidParameter, match="Unsupported artifact location 'gs://bucket/x'"):
        service.store_and_path("gs://bucket/x")


def test_store_cache_is_bounded(default_store: LocalArtifactStore, tmp_path: Path) -> None:
    service = ArtifactService(default_store, cache_size=2)
    a = service.store_and_path(str(tmp_path / "a"))[0]
    b = service.store_and_path(str(tmp_path / "b"))[0]
    assert service.store_and_path(str(tmp_path / "a"))[0] is a  # a is now the most recent
    service.store_and_path(str(tmp_path / "c"))  # evicts b
    assert service.store_and_path(str(tmp_path / "a"))[0] is a
    assert service.store_and_path(str(tmp_path / "b"))[0] is not b


def _run(artifact_uri: str) -> Run:
    return Run(
        run_id="r1",
        experiment_id="0",
        run_name="n",
        user_id="u",
        status="RUNNING",
        start_time=0,
        end_time=None,
        artifact_uri=artifact_uri,
        lifecycle_stage="active",
    )


def test_run_listing_is_relative_to_the_run_root(
    service: ArtifactService, default_store: LocalArtifactStore
) -> None:
    write(default_store, "0/r1/artifacts/model/MLmodel", b"abc")
    write(default_store, "0/r1/artifacts/top.txt", b"1")
    run = _run("mlflow-artifacts:/0/r1/artifacts")
    assert service.run_artifact_root(run) == (default_store, "0/r1/artifacts")
    assert service.list_run_artifacts(run, None) == [
        ArtifactInfo("model", True),
        ArtifactInfo("top.txt", False, 1),
    ]
    assert service.list_run_artifacts(run, "model") == [ArtifactInfo("model/MLmodel", False, 3)]
    assert service.list_under(default_store, "0/r1/artifacts/model") == [ArtifactInfo("MLmodel", False, 3)]


def test_delete_refuses_the_root(service: ArtifactService, default_store: LocalArtifactStore) -> None:
    write(default_store, "f.txt", b"x")
    with pytest.raises(InvalidParameter, match="refusing to delete the whole artifact root"):
        service.delete(default_store, "./")
    assert default_store.is_file("f.txt")


async def _body(parts: list[bytes], fail_after: int | None = None) -> AsyncIterator[bytes]:
    for i, part in enumerate(parts):
        if fail_after is not None and i == fail_after:
            raise ConnectionResetError("client went away")
        yield part


def test_async_upload_and_download(service: ArtifactService, default_store: LocalArtifactStore) -> None:
    parts = [bytes([i]) * (300 * 1024) for i in range(10)]  # 3 MB in 300 KiB network-sized chunks

    async def scenario() -> bytes:
        await service.upload(default_store, "up/file.bin", _body(parts))
        return b"".join([chunk async for chunk in await service.download(default_store, "up/file.bin")])

    assert anyio.run(scenario) == b"".join(parts)


def test_async_upload_interrupted_leaves_nothing(
    service: ArtifactService, default_store: LocalArtifactStore
) -> None:
    write(default_store, "up/file.bin", b"previous")
    parts = [b"x" * MiB] * 4

    async def scenario() -> None:
        await service.upload(default_store, "up/file.bin", _body(parts, fail_after=3))

    with pytest.raises(ConnectionResetError):
        anyio.run(scenario)
    assert read(default_store, "up/file.bin") == b"previous"
    assert [p.name for p in (default_store.root / "up").iterdir()] == ["file.bin"]


def test_async_download_of_missing_file_fails_before_streaming(
    service: ArtifactService, default_store: LocalArtifactStore
) -> None:
    async def scenario() -> None:
        await service.download(default_store, "missing.bin")

    with pytest.raises(NotFound):
        anyio.run(scenario)
