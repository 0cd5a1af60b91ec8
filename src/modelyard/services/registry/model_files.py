"""What a model version's files say about it: the ``MLmodel`` file (flavors, signature) and the saved
input example, read from the artifact store where the version's files are.

Read for the web UI's version page, for a ``ModelVersion`` the registry service gave the actor (so the
actor may read it: the viewer role in its model's group). Nothing here refuses a page: a missing, oversized or
malformed file is answered as a ``problem`` the page shows in place of what it could not read, since a
version whose files are broken is still a version a person must be able to look at (and delete).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.model_format import MLMODEL_FILE, ModelSpec, parse_mlmodel
from modelyard.domain.registry import ModelVersion
from modelyard.services.artifacts import ArtifactService
from modelyard.storage.artifacts import ArtifactStore, clean_path

MAX_MLMODEL_BYTES = 1024 * 1024
MAX_EXAMPLE_BYTES = 256 * 1024  # an example is shown, not processed: a page has no use for more


@dataclass(frozen=True, slots=True)
class VersionFiles:
    """``spec`` is None when the MLmodel could not be read (``problem`` says why); ``example`` is the
    parsed input example (None when there is none or it could not be read: ``example_problem``)."""

    location: str
    spec: ModelSpec | None
    problem: str | None = None
    example: Any = None
    example_problem: str | None = None


def read_version_files(artifacts: ArtifactService, version: ModelVersion) -> VersionFiles:
    """The MLmodel and input example of ``version`` (as read by ``get_model_version``)."""
    location = version.storage_location
    try:
        store, base = artifacts.store_and_path(location)
        raw = _read(store, _join(base, MLMODEL_FILE), MAX_MLMODEL_BYTES)
    except (InvalidParameter, NotFound, OSError) as exc:
        return VersionFiles(location, None, f"The {MLMODEL_FILE} file could not be read: {_why(exc)}")
    if raw is None:
        return VersionFiles(
            location, None, f"The {MLMODEL_FILE} file is over {MAX_MLMODEL_BYTES} bytes; it is not shown."
        )
    try:
        spec = parse_mlmodel(raw.decode("utf-8"))
    except (InvalidParameter, UnicodeDecodeError) as exc:
        return VersionFiles(location, None, f"The {MLMODEL_FILE} file is malformed: {_why(exc)}")
    example, problem = _example(store, base, spec)
    return VersionFiles(location, spec, None, example, problem)


def _example(store: ArtifactStore, base: str, spec: ModelSpec) -> tuple[Any, str | None]:
    info = spec.saved_input_example_info
    if info is None:
        return None, None
    try:
        raw = _read(store, _join(base, clean_path(info.artifact_path)), MAX_EXAMPLE_BYTES)
    except (InvalidParameter, NotFound, OSError) as exc:
        return None, f"The input example ({info.artifact_path}) could not be read: {_why(exc)}"
    if raw is None:
        return None, f"The input example is over {MAX_EXAMPLE_BYTES // 1024} KiB; it is not shown."
    try:
        return json.loads(raw.decode("utf-8")), None
    except (ValueError, UnicodeDecodeError):
        return None, f"The input example ({info.artifact_path}) is not JSON; it is not shown."


def _read(store: ArtifactStore, path: str, limit: int) -> bytes | None:
    """The file's bytes, None when it is over ``limit``; NotFound when there is no such file."""
    if not store.is_file(path):
        raise NotFound("there is no such file in the version's artifacts")
    with store.reader(path) as f:
        raw = f.read(limit + 1)
    return None if len(raw) > limit else raw


def _why(exc: Exception) -> str:
    return exc.message if isinstance(exc, InvalidParameter | NotFound) else type(exc).__name__


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
