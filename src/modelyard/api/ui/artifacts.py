"""The run page's artifact browser (``/runs/{id}?tab=artifacts&path=...``) and its routes: a file
streamed as a download, a raster image shown inline, a directory streamed as a zip. (Registering a
model directory is a form of the page: ``run_page.py``.)

Every route reads the run first with the signed-in user (``TrackingService.get_run``: the viewer
role in its group, another group's run answered like a missing one), then lists and reads inside the
run's artifact root through ``ArtifactService``, as the MLflow ``artifacts/list`` route does. Paths
pass ``clean_path``: ``..``, absolute paths, backslashes and NUL are refused with a message (the query
string is decoded once, so ``%2e%2e`` is ``..``), and the local store also refuses a symlink that
leads outside the root. Nothing is read whole: files and zips are streamed in 1 MiB chunks.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from modelyard.api.deps import services
from modelyard.api.errors import HTTP_STATUS
from modelyard.api.ui.artifact_preview import IMAGE_TYPES, PREVIEW_LIMIT, Preview, file_kind, preview
from modelyard.api.ui.deps import page_user
from modelyard.domain.errors import DomainError, InvalidParameter, NotFound
from modelyard.domain.identity import Principal
from modelyard.domain.model_format import MLMODEL_FILE
from modelyard.domain.tracking import Run
from modelyard.storage.artifacts import ArtifactInfo, ArtifactStore, clean_path

if TYPE_CHECKING:
    from modelyard.services import Services

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 500  # directory entries listed at once
CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # relative to the run's artifact root
    name: str
    is_dir: bool
    size: int | None


@dataclass(slots=True)
class ArtifactView:
    path: str  # what was asked for, cleaned ('' for the root or a refused path)
    directory: str  # the directory listed: the path, or the parent of the file
    crumbs: list[tuple[str, str]] = field(default_factory=list)  # (name, path) from the root down
    entries: list[Entry] = field(default_factory=list)
    total: int = 0
    start: int = 0
    file: Entry | None = None
    preview: Preview | None = None
    model_dir: str | None = None  # the directory listed holds an MLmodel file: it can be registered
    error: str = ""
    status: int = 200

    @property
    def next_start(self) -> int | None:
        return self.start + PAGE_SIZE if self.start + PAGE_SIZE < self.total else None

    @property
    def previous_start(self) -> int | None:
        return max(self.start - PAGE_SIZE, 0) if self.start > 0 else None


def _entry(info: ArtifactInfo) -> Entry:
    return Entry(info.path, info.path.rsplit("/", 1)[-1], info.is_dir, info.file_size)


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = path.split("/") if path else []
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


def _start(raw: str | None) -> int:
    if not raw:
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise InvalidParameter(f"Invalid value '{raw}' for parameter 'start': expected a whole number.")
    return int(raw)


def _root(svc: Services, run: Run) -> tuple[ArtifactStore, str]:
    return svc.artifact_service.run_artifact_root(run)


def _children(svc: Services, run: Run, directory: str) -> list[ArtifactInfo]:
    store, base = _root(svc, run)
    return svc.artifact_service.list_under(store, base, directory or None)


def locate(svc: Services, run: Run, path: str) -> Entry | None:
    """The entry at ``path`` (cleaned) in the run's artifacts, from its directory's listing; the
    root is a directory; None when there is nothing there."""
    if not path:
        return Entry("", "", True, None)
    found = next((i for i in _children(svc, run, _parent(path)) if i.path == path), None)
    return None if found is None else _entry(found)


def artifact_view(svc: Services, run: Run, raw_path: str | None, raw_start: str | None) -> ArtifactView:
    """What the artifacts tab shows for ``path``: a refused or missing path is a message on the tab
    (status 400 or 404) above the root's listing, never an error page without the browser."""
    try:
        path = clean_path(raw_path)
        start = _start(raw_start)
        siblings = _children(svc, run, _parent(path)) if path else []
    except DomainError as exc:
        view = _listing(svc, run, "", 0)
        view.error, view.status = exc.message, HTTP_STATUS.get(exc.code, 400)
        return view
    if not path:
        return _listing(svc, run, "", start)
    info = next((i for i in siblings if i.path == path), None)
    if info is None:
        view = _listing(svc, run, "", 0)
        view.error, view.status = f"This run has no artifact at '{path}'.", 404
        return view
    if info.is_dir:
        return _listing(svc, run, path, start)
    found = _entry(info)
    view = _listing(svc, run, _parent(path), start, selected=path, infos=siblings)
    view.path, view.file = path, found
    store, base = _root(svc, run)
    try:
        view.preview = preview(store, _join(base, path), found.size)
    except NotFound:
        view.error, view.status = f"The artifact '{path}' disappeared while it was read.", 404
    except InvalidParameter as exc:
        view.error, view.status = exc.message, 400
    return view


def _listing(
    svc: Services,
    run: Run,
    directory: str,
    start: int,
    *,
    selected: str = "",
    infos: list[ArtifactInfo] | None = None,
) -> ArtifactView:
    """The listing of ``directory`` (``infos``: its children, when already listed) from ``start``."""
    if infos is None:
        infos = _children(svc, run, directory)
    if selected and start == 0:  # the page of the listing that holds the selected file
        index = next((i for i, info in enumerate(infos) if info.path == selected), 0)
        start = index - index % PAGE_SIZE
    entries = [_entry(i) for i in infos[start : start + PAGE_SIZE]]
    has_model = any(not i.is_dir and i.path.rsplit("/", 1)[-1] == MLMODEL_FILE for i in infos)
    return ArtifactView(
        path=directory,
        directory=directory,
        crumbs=_crumbs(selected or directory),
        entries=entries,
        total=len(infos),
        start=start,
        model_dir=directory if has_model else None,
    )


def _join(base: str, path: str) -> str:
    return f"{base}/{path}" if base and path else base or path


# ---- downloads -----------------------------------------------------------------------------------
def _disposition(kind: str, name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_") or "artifact"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _file_for(
    request: Request, user: Principal, run_id: str, raw_path: str
) -> tuple[ArtifactStore, str, Entry]:
    """The run's file at ``raw_path`` (blocking: call off the event loop)."""
    svc = services(request)
    run = svc.tracking.get_run(user, run_id)
    path = clean_path(raw_path)
    found = locate(svc, run, path)
    if found is None:
        raise NotFound(f"This run has no artifact at '{path}'.")
    if found.is_dir:
        raise InvalidParameter(f"'{path or '/'}' is a directory: download it as a zip.")
    store, base = _root(svc, run)
    return store, _join(base, path), found


@router.get("/runs/{run_id}/artifacts/download")
async def download(
    request: Request, run_id: str, path: str = "", user: Principal = Depends(page_user)
) -> Response:
    store, full, entry = await run_in_threadpool(_file_for, request, user, run_id, path)
    chunks = await services(request).artifact_service.download(store, full)
    headers = {
        "Content-Disposition": _disposition("attachment", entry.name),
        "X-Content-Type-Options": "nosniff",
    }
    if entry.size is not None:
        headers["Content-Length"] = str(entry.size)
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.get("/runs/{run_id}/artifacts/raw")
async def raw_image(
    request: Request, run_id: str, path: str = "", user: Principal = Depends(page_user)
) -> Response:
    """A raster image for the preview's ``<img>``; any other file is refused (download it instead)."""
    store, full, entry = await run_in_threadpool(_file_for, request, user, run_id, path)
    if file_kind(entry.name) != "image":
        raise InvalidParameter(f"'{entry.path}' is not an image this page shows; download it instead.")
    if entry.size is not None and entry.size > PREVIEW_LIMIT:
        raise InvalidParameter(f"'{entry.path}' is too large to show; download it instead.")
    chunks = await services(request).artifact_service.download(store, full)
    media = IMAGE_TYPES[entry.name.rsplit(".", 1)[-1].lower()]
    headers = {
        "Content-Disposition": _disposition("inline", entry.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=60",
    }
    return StreamingResponse(chunks, media_type=media, headers=headers)


class _Sink(io.RawIOBase):
    """Where the zip is written: a buffer emptied after each chunk (not seekable, so ``zipfile``
    writes each member's sizes after its data and never goes back)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _walk(svc: Services, store: ArtifactStore, base: str, directory: str) -> Iterator[ArtifactInfo]:
    """Every file under ``directory``, depth first, in name order."""
    for info in svc.artifact_service.list_under(store, base, directory or None):
        if info.is_dir:
            yield from _walk(svc, store, base, info.path)
        else:
            yield info


def zip_stream(svc: Services, store: ArtifactStore, base: str, directory: str, top: str) -> Iterator[bytes]:
    """A zip of the files under ``directory``, named ``top/<path below directory>``, as it is made."""
    sink = _Sink()
    cut = len(directory) + 1 if directory else 0
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for info in _walk(svc, store, base, directory):
            member = zipfile.ZipInfo(f"{top}/{info.path[cut:]}", date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.file_size = info.file_size or 0  # decides zip64 for a large file up front
            with (
                store.reader(_join(base, info.path)) as src,
                archive.open(member, "w", force_zip64=True) as dst,
            ):
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    if data := sink.take():
                        yield data
            if data := sink.take():
                yield data
    yield sink.take()


def _zip_for(
    request: Request, user: Principal, run_id: str, raw_path: str
) -> tuple[ArtifactStore, str, str, str]:
    svc = services(request)
    run = svc.tracking.get_run(user, run_id)
    path = clean_path(raw_path)
    found = locate(svc, run, path)
    if found is None:
        raise NotFound(f"This run has no artifact at '{path}'.")
    if not found.is_dir:
        raise InvalidParameter(f"'{path}' is a file: download it as it is.")
    store, base = _root(svc, run)
    return store, base, path, found.name or f"run-{run.run_id}-artifacts"


@router.get("/runs/{run_id}/artifacts/zip")
async def download_zip(
    request: Request, run_id: str, path: str = "", user: Principal = Depends(page_user)
) -> Response:
    store, base, directory, top = await run_in_threadpool(_zip_for, request, user, run_id, path)
    body = zip_stream(services(request), store, base, directory, top)
    headers = {
        "Content-Disposition": _disposition("attachment", f"{top}.zip"),
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(body, media_type="application/zip", headers=headers)
