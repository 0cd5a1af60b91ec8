"""The artifact store interface and the scheme registry.

Paths handed to a store are relative, '/'-separated, and pass ``clean_path`` first: no absolute
paths, no ``..`` segments, no backslashes or NUL bytes — so no request can reach outside the root —
and no name longer than file systems take (255 bytes; 1,024 for the whole path, as S3 keys).
Writes are atomic (a reader sees the old file or the whole new one) and streamed (never the whole
file in memory).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from modelyard.domain.errors import InvalidParameter


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    path: str  # relative to the listed directory's root, '/'-separated
    is_dir: bool
    file_size: int | None = None


MAX_SEGMENT_BYTES = 255  # a file name (ext4, xfs, APFS, NTFS)
MAX_PATH_BYTES = 1024  # an S3 key; a local root plus this stays under PATH_MAX (4096)


def clean_path(path: str | None) -> str:
    """Normalise a user-supplied relative artifact path, refusing anything that could escape the root."""
    if path is None:
        return ""
    if "\x00" in path or "\\" in path:
        raise InvalidParameter(f"Invalid artifact path '{path}': backslashes and NUL bytes are not allowed.")
    if path.startswith("/"):
        raise InvalidParameter(f"Invalid artifact path '{path}': the path must be relative, not absolute.")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidParameter(f"Invalid artifact path '{path}': '..' segments are not allowed.")
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            raise InvalidParameter(
                f"Invalid artifact path '{path[:80]}...': the name '{part[:40]}...' is longer than "
                f"{MAX_SEGMENT_BYTES} bytes, which file systems refuse."
            )
    cleaned = "/".join(parts)
    if len(cleaned.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidParameter(
            f"Invalid artifact path '{path[:80]}...': it is longer than {MAX_PATH_BYTES} bytes."
        )
    return cleaned


class ArtifactStore(abc.ABC):
    """A tree of files under one root URI."""

    root_uri: str

    @abc.abstractmethod
    def writer(self, path: str) -> AbstractContextManager[BinaryIO]:
        """A file to write ``path`` into; it becomes visible atomically when the block exits cleanly."""

    @abc.abstractmethod
    def reader(self, path: str) -> AbstractContextManager[BinaryIO]:
        """The file at ``path`` for streamed reading; raises ``NotFound`` if there is none."""

    @abc.abstractmethod
    def list(self, path: str) -> list[ArtifactInfo]:
        """Direct children of the directory ``path`` (empty if it does not exist), sorted by path."""

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file, or a directory and everything below it. Missing paths are not an error."""

    @abc.abstractmethod
    def is_file(self, path: str) -> bool: ...

    @abc.abstractmethod
    def make_private(self) -> None:
        """Make the root exist and readable by the server's user only, where the store has a root on
        this machine's file system (done for the server's default store at start)."""

    def iter_bytes(self, path: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        with self.reader(path) as f:
            while chunk := f.read(chunk_size):
                yield chunk
