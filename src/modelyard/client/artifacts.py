"""Artifacts: where a run's files live behind the server's artifact proxy, and moving them there and back.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment>/<run>/artifacts`` (the host part, when
present, names the server); the proxy serves it at ``/api/2.0/mlflow-artifacts/artifacts/<that path>``.
Paths listed by the server are checked before they become local file names, so a listing can never
make a download write outside its destination.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import quote, urlsplit

from modelyard.client.errors import ModelyardError
from modelyard.client.transport import Transport
from modelyard.schemas import FileInfo

API = "/api/2.0/mlflow"
PROXY_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
DOWNLOAD_CHUNK = 1024 * 1024


def join(*parts: str | None) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def proxy_root(artifact_uri: str) -> str:
    """The path of a run's artifact root under the proxy; refuses locations the proxy does not serve."""
    parts = urlsplit(artifact_uri)
    if parts.scheme != "mlflow-artifacts":
        raise ModelyardError(
            f"The run's artifacts live at '{artifact_uri}', which the server does not proxy; only "
            "'mlflow-artifacts:' locations (the default for experiments created without an "
            "artifact_location) can be uploaded and downloaded through modelyard.",
            error_code="INVALID_PARAMETER_VALUE",
        )
    return parts.path.strip("/")


def proxy_url(path: str) -> str:
    return f"{PROXY_PREFIX}/{quote(path, safe='/')}"


def files_to_upload(
    local: Path, artifact_path: str | None, *, contents_only: bool
) -> Iterator[tuple[Path, str]]:
    """(local file, artifact path) pairs. A directory keeps its own name unless ``contents_only``."""
    if local.is_file():
        if contents_only:
            raise NotADirectoryError(f"Not a directory: '{local}'")
        yield local, join(artifact_path, local.name)
        return
    if not local.is_dir():
        raise FileNotFoundError(f"No such file or directory: '{local}'")
    base = artifact_path if contents_only else join(artifact_path, local.name)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            yield path, join(base, path.relative_to(local).as_posix())


def local_target(dst: Path, relative: str) -> Path:
    """``dst/relative``, refusing a server-listed path that would climb out of ``dst``."""
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise ModelyardError(
            f"The server listed an unsafe artifact path '{relative}'; refusing to write it.",
            error_code="BAD_RESPONSE",
        )
    return dst.joinpath(*pure.parts)


def relative_to(path: str, base: str) -> str:
    """``path`` (relative to the run's root) relative to the listed directory ``base``."""
    if not base:
        return path
    if not path.startswith(base + "/"):
        raise ModelyardError(
            f"The server listed '{path}' under '{base}', where it does not belong.", error_code="BAD_RESPONSE"
        )
    return path[len(base) + 1 :]


def list_run_artifacts(http: Transport, run_id: str, path: str | None) -> list[FileInfo]:
    """One level of a run's artifacts through the tracking API (works for any artifact location)."""
    params: dict[str, str | int | list[str]] = {"run_id": run_id}
    if path:
        params["path"] = path
    data = http.get(f"{API}/artifacts/list", params)
    return [FileInfo.model_validate(f) for f in data.get("files", [])]


class RunArtifacts:
    """Moves files between this machine and one run's artifacts, through the artifact proxy."""

    def __init__(self, http: Transport, run_id: str, artifact_uri: str) -> None:
        self.http = http
        self.run_id = run_id
        self.root = proxy_root(artifact_uri)

    def upload(self, files: Iterable[tuple[Path, str]]) -> None:
        """PUT each (local file, artifact path), streamed from disk and reopened on a retry."""
        for local, relative in files:
            self.http.send(
                "PUT",
                proxy_url(join(self.root, relative)),
                open_content=_opener(local),
                headers={"Content-Type": "application/octet-stream"},
            )

    def download(self, path: str, dst: Path) -> Path:
        """The file or directory ``path`` (the whole root when empty) into ``dst``; its local path."""
        dst.mkdir(parents=True, exist_ok=True)
        path = path.strip("/")
        name = path.rsplit("/", 1)[-1]
        entries = list_run_artifacts(self.http, self.run_id, path or None)
        if not entries and path:  # a file lists as nothing: fetch it (a missing path answers 404)
            self._file(path, dst / name)
            return dst / name
        target = dst / name if path else dst
        self._tree(path, entries, target)
        return target

    def _tree(self, base: str, entries: list[FileInfo], target: Path) -> None:
        """``entries`` (listed under ``base``) and everything below them, into ``target``."""
        target.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            if entry.is_dir:
                self._tree(base, list_run_artifacts(self.http, self.run_id, entry.path), target)
            else:
                self._file(entry.path, local_target(target, relative_to(entry.path, base)))

    def _file(self, path: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        with self.http.stream(proxy_url(join(self.root, path))) as response:
            try:
                with partial.open("wb") as f:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        f.write(chunk)
            except BaseException:
                partial.unlink(missing_ok=True)  # never leave half a file behind
                raise
        partial.replace(target)


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")
