"""Choose an artifact store implementation from a root URI's scheme."""

from __future__ import annotations

from collections.abc import Callable

from modelyard.domain.errors import InvalidParameter
from modelyard.storage.artifacts.base import ArtifactStore
from modelyard.storage.artifacts.local import LocalArtifactStore
from modelyard.storage.artifacts.s3 import S3ArtifactStore

_SCHEMES: dict[str, Callable[[str], ArtifactStore]] = {
    "file": LocalArtifactStore.from_uri,
    "s3": S3ArtifactStore.from_uri,
}


def artifact_store_for(uri: str) -> ArtifactStore:
    """The store for a root URI: ``s3://bucket/prefix``, ``file:///dir`` or a plain local path."""
    scheme = uri.split("://", 1)[0] if "://" in uri else "file"
    factory = _SCHEMES.get(scheme)
    if factory is None:
        raise InvalidParameter(
            f"Unsupported artifact root '{uri}': use a local path, file:///path or s3://bucket/prefix."
        )
    return factory(uri)
