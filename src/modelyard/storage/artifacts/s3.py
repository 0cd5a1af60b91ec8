"""Artifact store on S3 or any S3-protocol server (MinIO, Ceph, moto), rooted at ``s3://bucket/prefix``.

S3 has no directories: a "directory" is the set of keys sharing a ``/``-terminated prefix, listed one
level at a time with ``Delimiter='/'``. Writes are atomic for free (an object appears whole on a
successful PUT); the writer spools to a temporary file (memory first, disk past ``SPOOL_BYTES``) so the
upload can start from a seekable file and boto3 can split it into a multipart upload.

The endpoint comes from ``MLFLOW_S3_ENDPOINT_URL`` (MLflow's variable) or ``AWS_ENDPOINT_URL``;
credentials and region come from boto3's usual chain (environment, config files, instance role).
``MLFLOW_S3_IGNORE_TLS=true`` turns off certificate checks, for self-signed test servers only.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO, cast

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.storage.artifacts.base import ArtifactInfo, ArtifactStore, clean_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SPOOL_BYTES = 8 * 1024 * 1024
# DeleteObjects accepts at most this many keys per call; ListObjectsV2 returns at most as many per page.
DELETE_BATCH = 1000
LIST_PAGE_SIZE = 1000
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``."""
    if not uri.startswith("s3://"):
        raise InvalidParameter(f"Invalid S3 URI '{uri}': expected s3://bucket/prefix.")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise InvalidParameter(f"Invalid S3 URI '{uri}': the bucket name is missing.")
    return bucket, clean_path(prefix.strip("/"))


def endpoint_from_env() -> str | None:
    return os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL") or None


class S3ArtifactStore(ArtifactStore):
    def __init__(self, uri: str, *, endpoint_url: str | None = None) -> None:
        import boto3  # heavy: only servers that use S3 pay for it
        from botocore.config import Config

        self.bucket, self.prefix = parse_s3_uri(uri)
        self.root_uri = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        ignore_tls = os.environ.get("MLFLOW_S3_IGNORE_TLS", "").lower() in ("1", "true", "yes")
        self._client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or endpoint_from_env(),
            verify=not ignore_tls,
            config=Config(signature_version="s3v4", retries={"mode": "standard"}),
        )
        self._client_error = self._client.exceptions.ClientError

    @classmethod
    def from_uri(cls, uri: str) -> S3ArtifactStore:
        return cls(uri)

    def _key(self, path: str) -> str:
        rel = clean_path(path)
        if self.prefix and rel:
            return f"{self.prefix}/{rel}"
        return self.prefix or rel

    def _dir_prefix(self, path: str) -> str:
        key = self._key(path)
        return f"{key}/" if key else ""

    def _rel(self, key: str) -> str:
        """A key relative to the store root."""
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def _is_missing(self, exc: Exception) -> bool:
        if not isinstance(exc, self._client_error):
            return False
        return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_CODES

    @contextmanager
    def writer(self, path: str) -> Iterator[BinaryIO]:
        rel = clean_path(path)
        if not rel:
            raise InvalidParameter("An artifact path is required to write a file; got an empty path.")
        content_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b") as spool:
            yield cast(BinaryIO, spool)
            spool.seek(0)
            self._client.upload_fileobj(
                spool, self.bucket, self._key(rel), ExtraArgs={"ContentType": content_type}
            )

    @contextmanager
    def reader(self, path: str) -> Iterator[BinaryIO]:
        rel = clean_path(path)
        try:
            obj = self._client.get_object(Bucket=self.bucket, Key=self._key(rel))
        except self._client_error as exc:
            if self._is_missing(exc):
                raise NotFound(f"Artifact '{rel}' does not exist.") from None
            raise
        body = obj["Body"]
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()

    def list(self, path: str) -> list[ArtifactInfo]:
        prefix = self._dir_prefix(path)
        out: list[ArtifactInfo] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                out.append(ArtifactInfo(self._rel(common["Prefix"].rstrip("/")), True))
            for obj in page.get("Contents", []):
                # A zero-byte "folder marker" some tools create for the directory itself is not a child.
                if obj["Key"] != prefix:
                    out.append(ArtifactInfo(self._rel(obj["Key"]), False, obj["Size"]))
        return sorted(out, key=lambda info: info.path)

    def delete(self, path: str) -> None:
        if clean_path(path):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(path))
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._dir_prefix(path), PaginationConfig={"PageSize": DELETE_BATCH}
        )
        for page in pages:
            keys = [obj["Key"] for obj in page.get("Contents", [])]
            if keys:
                self._delete_keys(keys)

    def _delete_keys(self, keys: Sequence[str]) -> None:
        response = self._client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"S3 refused to delete {len(errors)} of {len(keys)} objects in bucket '{self.bucket}'; "
                f"first: {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )

    def make_private(self) -> None:
        """Nothing to do: who may read the bucket is the bucket's policy."""

    def is_file(self, path: str) -> bool:
        if not clean_path(path):
            return False
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(path))
        except self._client_error as exc:
            if self._is_missing(exc):
                return False
            raise
        return True
