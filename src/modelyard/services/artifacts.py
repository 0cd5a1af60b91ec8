"""Artifact use cases: resolve an artifact URI to a store and a path, list, stream up and down, delete.

URIs come from runs, logged models and model versions: ``mlflow-artifacts:/a/b`` (served by this
server's own default store), ``s3://bucket/prefix``, ``file:///dir`` or a plain path. A URI that falls
under the default store's root is served by the default store itself, so the common case needs no
extra store and no extra S3 client; other roots get a store of their own, kept in a small LRU cache.

Stores are blocking (files, boto3); the async ``upload``/``download`` below move that work onto worker
threads chunk by chunk so a large transfer never blocks the event loop nor sits whole in memory.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

import anyio
import anyio.to_thread

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.tracking import Run
from modelyard.storage.artifacts import ArtifactInfo, ArtifactStore, artifact_store_for, clean_path

STREAM_CHUNK = 1024 * 1024
STORE_CACHE_SIZE = 64


STAGING_PREFIX = ".incoming-"  # a copy into a materialize cache that is not complete yet


def cache_key(uri: str) -> str:
    """The name of ``uri``'s copy in a materialize cache."""
    return hashlib.sha256(uri.encode()).hexdigest()[:24]


class ArtifactService:
    def __init__(self, default_store: ArtifactStore, *, cache_size: int = STORE_CACHE_SIZE) -> None:
        self.default_store = default_store
        self._cache: OrderedDict[str, ArtifactStore] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- resolving URIs ---------------------------------------------------------------------------

    def store_and_path(self, uri: str) -> tuple[ArtifactStore, str]:
        """The store that holds ``uri`` and the path of ``uri`` inside it."""
        parsed = urlparse(uri)
        if parsed.scheme == "mlflow-artifacts":
            # The host part of mlflow-artifacts://host:port/... names this server; the path is what counts.
            return self.default_store, clean_path(unquote(parsed.path).lstrip("/"))
        root = _root_uri(uri, parsed.scheme)
        default_root = self.default_store.root_uri.rstrip("/")
        if root == default_root:
            return self.default_store, ""
        if root.startswith(default_root + "/"):
            return self.default_store, clean_path(root[len(default_root) + 1 :])
        return self._store_for_root(root), ""

    def run_artifact_root(self, run: Run) -> tuple[ArtifactStore, str]:
        return self.store_and_path(run.artifact_uri)

    def _store_for_root(self, root: str) -> ArtifactStore:
        with self._lock:
            store = self._cache.get(root)
            if store is not None:
                self._cache.move_to_end(root)
                return store
        # Building an S3 client takes a while; do it outside the lock. A rare duplicate is harmless.
        store = artifact_store_for(root)
        with self._lock:
            self._cache[root] = store
            self._cache.move_to_end(root)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return store

    # -- whole trees (deployments) ---------------------------------------------------------------

    def files_under(self, uri: str) -> list[str]:
        """Every file below ``uri``, as paths relative to it."""
        store, base = self.store_and_path(uri)
        out: list[str] = []
        pending = [""]
        while pending:
            rel = pending.pop()
            for info in self.list_under(store, base, rel or None):
                (pending if info.is_dir else out).append(info.path)
        return sorted(out)

    def copy_tree(self, src_uri: str, dst_path: str) -> int:
        """Copy every file below ``src_uri`` to ``dst_path`` in the default store; the number copied."""
        store, base = self.store_and_path(src_uri)
        files = self.files_under(src_uri)
        if not files:
            raise NotFound(f"No model files at {src_uri}.")
        for rel in files:
            with (
                store.reader(_join(base, rel)) as src,
                self.default_store.writer(_join(dst_path, rel)) as dst,
            ):
                shutil.copyfileobj(src, dst, 1024 * 1024)
        return len(files)

    def local_dir(self, uri: str) -> Path | None:
        """The local directory holding ``uri``'s files when its store is a local one, else None."""
        store, base = self.store_and_path(uri)
        root = getattr(store, "root", None)
        if not isinstance(root, Path):
            return None
        target = (root / base).resolve() if base else root
        return target if target.is_relative_to(root) else None

    def materialize(self, uri: str, cache: Path) -> Path:
        """A local directory with ``uri``'s files: the store's own directory when it is local, else a
        copy under ``cache`` (made once, atomically)."""
        local = self.local_dir(uri)
        if local is not None:
            return local
        target = cache / cache_key(uri)
        if target.is_dir():
            return target
        store, base = self.store_and_path(uri)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=cache))
        try:
            for rel in self.files_under(uri):
                dest = staging / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with store.reader(_join(base, rel)) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, 1024 * 1024)
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                raise
        return target

    # -- operations -------------------------------------------------------------------------------

    def list_under(self, store: ArtifactStore, base: str, path: str | None = None) -> list[ArtifactInfo]:
        """Children of the directory ``base/path``, their paths made relative to ``base``."""
        base = clean_path(base)
        directory = _join(base, clean_path(path))
        cut = len(base) + 1 if base else 0
        return [ArtifactInfo(i.path[cut:], i.is_dir, i.file_size) for i in store.list(directory)]

    def list_run_artifacts(self, run: Run, path: str | None) -> list[ArtifactInfo]:
        """Children of ``path`` in a run's artifacts, their paths relative to the run's artifact root."""
        store, base = self.run_artifact_root(run)
        return self.list_under(store, base, path)

    def delete(self, store: ArtifactStore, path: str) -> None:
        if not clean_path(path):
            raise InvalidParameter(
                "An artifact path is required; refusing to delete the whole artifact root."
            )
        store.delete(path)

    async def upload(self, store: ArtifactStore, path: str, chunks: AsyncIterable[bytes]) -> int:
        """Stream ``chunks`` into ``path``; the file appears only if every chunk arrived. Returns its size."""
        clean_path(path)  # refuse a bad path before reading any of the body
        writer = store.writer(path)
        f = await anyio.to_thread.run_sync(writer.__enter__)
        size = 0
        try:
            buffer = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                buffer += chunk
                # Hop to a thread once per ~1 MiB, not once per (often 64 KiB) network chunk.
                if len(buffer) >= STREAM_CHUNK:
                    await anyio.to_thread.run_sync(f.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await anyio.to_thread.run_sync(f.write, bytes(buffer))
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.__exit__, type(exc), exc, exc.__traceback__)
            raise
        await anyio.to_thread.run_sync(writer.__exit__, None, None, None)
        return size

    async def download(self, store: ArtifactStore, path: str) -> AsyncIterator[bytes]:
        """Open ``path`` now (so a missing file raises ``NotFound`` before any response starts) and
        return its bytes as an async stream that closes the file when done."""
        reader = store.reader(path)
        f = await anyio.to_thread.run_sync(reader.__enter__)
        return _chunks(reader, f)


async def _chunks(reader: AbstractContextManager[BinaryIO], f: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(f.read, STREAM_CHUNK):
            yield chunk
    finally:
        reader.__exit__(None, None, None)


def _join(base: str, path: str) -> str:
    return f"{base}/{path}" if base and path else base or path


def _root_uri(uri: str, scheme: str) -> str:
    """The canonical root URI of a non-proxied location, as stores spell their ``root_uri``."""
    if scheme == "s3":
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        prefix = clean_path(prefix.strip("/"))
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    if scheme == "file":
        return str(Path(unquote(urlparse(uri).path)).expanduser().resolve())
    if scheme == "":
        # A plain path; a relative one is taken from the server's working directory, as MLflow does.
        return str(Path(uri).expanduser().resolve())
    raise InvalidParameter(
        f"Unsupported artifact location '{uri}': modelyard serves mlflow-artifacts:/, s3://, file:// and "
        "local paths."
    )
