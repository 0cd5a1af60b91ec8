"""Artifact store on a local directory.

Every path is checked twice: ``clean_path`` refuses ``..`` and absolute paths lexically, then the
resolved location (symlinks followed) must still lie under the resolved root, so a symlink planted in
the tree cannot lead a read, write or delete outside it. Writes go to a temporary file in the target's
own directory and are renamed over the target (``os.replace`` is atomic on one filesystem); a failed
write leaves no temporary file behind. Files are owner-only (0600, as ``mkstemp`` makes them) and
directories are created 0700 (``storage.permissions``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.storage.artifacts.base import ArtifactInfo, ArtifactStore, clean_path
from modelyard.storage.permissions import private_dir, private_tree_root

# Half-written files carry this prefix; listings hide them.
TEMP_PREFIX = ".modelyard-tmp-"


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.root_uri = str(self.root)

    @classmethod
    def from_uri(cls, uri: str) -> LocalArtifactStore:
        # file:///dir%20name → /dir name; a plain path is taken as it is.
        path = unquote(urlparse(uri).path) if uri.startswith("file:") else uri
        return cls(Path(path))

    def _abs(self, path: str) -> tuple[str, Path]:
        """The cleaned relative path and its absolute location, refusing anything that resolves outside."""
        rel = clean_path(path)
        target = self.root / rel if rel else self.root
        resolved = target.resolve()
        if not resolved.is_relative_to(self.root):
            raise InvalidParameter(
                f"Invalid artifact path '{path}': it resolves outside the artifact root (through a symlink)."
            )
        return rel, target

    @contextmanager
    def writer(self, path: str) -> Iterator[BinaryIO]:
        rel, target = self._abs(path)
        if not rel:
            raise InvalidParameter("An artifact path is required to write a file; got an empty path.")
        if target.is_dir():
            raise InvalidParameter(f"Cannot write artifact '{rel}': a directory of that name exists.")
        with suppress(FileExistsError, NotADirectoryError):
            private_dir(target.parent)
        if not target.parent.is_dir():
            raise InvalidParameter(
                f"Cannot write artifact '{rel}': a parent of that path is a file, not a directory."
            )
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextmanager
    def reader(self, path: str) -> Iterator[BinaryIO]:
        rel, target = self._abs(path)
        if not target.is_file():
            raise NotFound(f"Artifact '{rel}' does not exist.")
        with target.open("rb") as f:
            yield f

    def list(self, path: str) -> list[ArtifactInfo]:
        rel, base = self._abs(path)
        if not base.is_dir():
            return []
        out = []
        for child in sorted(base.iterdir(), key=lambda p: p.name):
            if child.name.startswith(TEMP_PREFIX) or not self._inside(child):
                continue
            child_rel = f"{rel}/{child.name}" if rel else child.name
            if child.is_dir():
                out.append(ArtifactInfo(child_rel, True))
            elif child.is_file():
                out.append(ArtifactInfo(child_rel, False, child.stat().st_size))
        return out

    def delete(self, path: str) -> None:
        rel, target = self._abs(path)
        if not rel:
            # Empty the root but keep it: the store stays usable.
            for child in self.root.iterdir():
                _remove(child)
            return
        if target.exists() or target.is_symlink():
            _remove(target)

    def is_file(self, path: str) -> bool:
        return self._abs(path)[1].is_file()

    def make_private(self) -> None:
        private_tree_root(self.root)

    def _inside(self, child: Path) -> bool:
        # A symlink pointing outside the root is neither listed nor followed.
        return child.resolve().is_relative_to(self.root)


def _remove(target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
