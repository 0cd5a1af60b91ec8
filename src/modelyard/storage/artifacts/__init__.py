"""Artifact stores behind one interface, chosen by URI scheme (a local path or ``file://``, ``s3://``)."""

from modelyard.storage.artifacts.base import ArtifactInfo, ArtifactStore, clean_path
from modelyard.storage.artifacts.registry import artifact_store_for

__all__ = ["ArtifactInfo", "ArtifactStore", "artifact_store_for", "clean_path"]
