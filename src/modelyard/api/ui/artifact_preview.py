"""Previews of one artifact file for the run page's artifact browser: what kind of file it is (by its
name, else by a look at its first bytes) and what to show of it.

Nothing is read whole that could be large: a file over ``PREVIEW_LIMIT`` is not opened at all, text
shows its first ``TEXT_LIMIT`` bytes, JSON, YAML, Markdown and MLmodel files are parsed only up to
``PARSE_LIMIT`` (larger ones are shown as text), and a CSV/TSV file is read as a stream: its first
rows kept, the rest only counted. Everything here is text for the template, which escapes it; the one
exception is Markdown, rendered by markdown-it with raw HTML off (so the HTML it returns holds only
what it made itself, every piece of the file's text escaped) and links limited to safe schemes.
Images are not read here: the page loads them from the raw route, which serves only raster types.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from markdown_it import MarkdownIt
from markupsafe import Markup

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import MLMODEL_FILE, parse_mlmodel
from modelyard.domain.model_signature import ColSpec, Schema
from modelyard.storage.artifacts import ArtifactStore

PREVIEW_LIMIT = 50 * 1024 * 1024  # no preview of a larger file (download it)
TEXT_LIMIT = 256 * 1024  # the first this many bytes of a text file
PARSE_LIMIT = 5 * 1024 * 1024  # JSON, YAML, Markdown and MLmodel files parsed up to this size
SNIFF_BYTES = 8192
CSV_ROWS = 100
CSV_COLUMNS = 100
CSV_CELL = 1000
READ_CHUNK = 1024 * 1024

# Raster images the browser shows in an <img>; SVG is not one of them (it can carry scripts): it is
# shown as text.
IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
TEXT_EXTENSIONS = frozenset(
    [
        "txt",
        "log",
        "out",
        "err",
        "py",
        "pyi",
        "sh",
        "bash",
        "zsh",
        "cfg",
        "ini",
        "conf",
        "toml",
        "properties",
        "env",
        "xml",
        "html",
        "htm",
        "svg",
        "js",
        "ts",
        "css",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "java",
        "kt",
        "scala",
        "go",
        "rs",
        "rb",
        "r",
        "jl",
        "sql",
        "tex",
        "rst",
        "ipynb",
        "lock",
        "gitignore",
        "dockerfile",
    ]
)
TEXT_NAMES = frozenset({"dockerfile", "makefile", "license", "readme", "requirements", "mlproject"})


@dataclass(frozen=True, slots=True)
class TablePreview:
    header: list[str]
    rows: list[list[str]]
    total_rows: int  # data rows, the header not counted
    total_columns: int
    cells_cut: bool  # a cell longer than CSV_CELL characters was cut


@dataclass(frozen=True, slots=True)
class SchemaTable:
    tensors: bool
    rows: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class ModelPreview:
    flavors: list[tuple[str, list[tuple[str, str]]]]
    facts: list[tuple[str, str]]
    inputs: SchemaTable | None
    outputs: SchemaTable | None
    params: list[dict[str, str]] | None


@dataclass(slots=True)
class Preview:
    """``kind``: image, text, json, yaml, markdown, table, mlmodel, binary, too_large or empty."""

    kind: str
    size: int | None
    text: str = ""
    truncated: bool = False  # ``text`` is the file's first TEXT_LIMIT bytes only
    notes: list[str] = field(default_factory=list)
    html: Markup | None = None
    table: TablePreview | None = None
    model: ModelPreview | None = None


def file_kind(name: str) -> str:
    """What a file's name says it is: mlmodel, image, json, yaml, markdown, csv, tsv, text or ''."""
    base = name.rsplit("/", 1)[-1]
    if base == MLMODEL_FILE:
        return "mlmodel"
    stem, dot, ext = base.rpartition(".")
    ext = ext.lower() if dot and stem else ""
    if ext in IMAGE_TYPES:
        return "image"
    named = {"json": "json", "yaml": "yaml", "yml": "yaml", "md": "markdown", "markdown": "markdown"}
    if ext in named:
        return named[ext]
    if ext in ("csv", "tsv"):
        return ext
    if ext in TEXT_EXTENSIONS or base.lower() in TEXT_NAMES or (not ext and base.lower() in TEXT_NAMES):
        return "text"
    return ""


def preview(store: ArtifactStore, path: str, size: int | None) -> Preview:
    """The preview of the file at ``path`` in ``store`` (``size`` from its directory's listing)."""
    kind = file_kind(path)
    if size is not None and size > PREVIEW_LIMIT:
        return Preview("too_large", size)
    if size == 0:
        return Preview("empty", size)
    if kind == "image":
        return Preview("image", size)
    if kind in ("csv", "tsv"):
        with store.reader(path) as f:
            return Preview("table", size, table=_table(f, "\t" if kind == "tsv" else ","))
    whole = kind in ("json", "yaml", "markdown", "mlmodel") and (size is None or size <= PARSE_LIMIT)
    with store.reader(path) as f:
        raw = f.read(PARSE_LIMIT + 1 if whole else TEXT_LIMIT + 1)
    if not kind and not _looks_like_text(raw[:SNIFF_BYTES]):
        return Preview("binary", size)
    if whole and len(raw) <= PARSE_LIMIT:
        text = raw.decode("utf-8", errors="replace")
        return _parsed(kind, text, size)
    out = _text_preview(raw, size)
    if kind in ("json", "yaml", "markdown", "mlmodel"):
        out.notes.append(f"Too large to format (over {_mb(PARSE_LIMIT)}): shown as plain text.")
    if path.lower().endswith(".svg"):
        out.notes.append("SVG images are shown as text: an SVG file can carry scripts.")
    return out


def _mb(n: int) -> str:
    return f"{n // (1024 * 1024)} MB"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _text_preview(raw: bytes, size: int | None) -> Preview:
    cut = len(raw) > TEXT_LIMIT
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(raw[:TEXT_LIMIT], final=not cut)
    return Preview("text", size, text=text, truncated=cut)


def _parsed(kind: str, text: str, size: int | None) -> Preview:
    if kind == "json":
        try:
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError) as exc:
            return _plain(text, size, f"Not valid JSON ({exc}): shown as plain text.")
        return _capped(Preview("json", size), pretty)
    if kind == "yaml":
        import yaml

        try:
            list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "unreadable"
            return _plain(text, size, f"Not valid YAML ({first}): shown as plain text.")
        return _capped(Preview("yaml", size), text)
    if kind == "markdown":
        return Preview("markdown", size, html=render_markdown(text))
    return _mlmodel(text, size)


def _capped(out: Preview, text: str) -> Preview:
    if len(text) > TEXT_LIMIT:
        out.text, out.truncated = text[:TEXT_LIMIT], True
    else:
        out.text = text
    return out


def _plain(text: str, size: int | None, note: str) -> Preview:
    out = _capped(Preview("text", size), text)
    out.notes.append(note)
    return out


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render_markdown(text: str) -> Markup:
    """Markdown as HTML, raw HTML off: markdown-it escapes every piece of the text it copies and refuses
    ``javascript:``/``vbscript:``/``data:`` links (its ``validateLink``); the page's CSP keeps images to
    this site."""
    return Markup(_MARKDOWN.render(text))


# ---- CSV / TSV -----------------------------------------------------------------------------------
def _lines(f: BinaryIO) -> Iterator[str]:
    """The file's lines (each with its newline), decoded as UTF-8 chunk by chunk."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while True:
        chunk = f.read(READ_CHUNK)
        pending += decoder.decode(chunk or b"", final=not chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
        if not chunk:
            break
    if pending:
        yield pending


def _cell(value: str) -> tuple[str, bool]:
    return (value[:CSV_CELL] + "…", True) if len(value) > CSV_CELL else (value, False)


def _table(f: BinaryIO, delimiter: str) -> TablePreview:
    reader = csv.reader(_lines(f), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    total = columns = 0
    cut = False
    try:
        for record in reader:
            columns = max(columns, len(record))
            if header is None:
                header = record
                continue
            total += 1
            if len(rows) < CSV_ROWS:
                cells = [_cell(v) for v in record[:CSV_COLUMNS]]
                cut = cut or any(c for _, c in cells)
                rows.append([v for v, _ in cells])
    except csv.Error as exc:
        raise InvalidParameter(f"Cannot read the file as a table: {exc}") from None
    head = [_cell(v)[0] for v in (header or [])[:CSV_COLUMNS]]
    return TablePreview(header=head, rows=rows, total_rows=total, total_columns=columns, cells_cut=cut)


# ---- MLmodel -------------------------------------------------------------------------------------
def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _schema_table(schema: Schema | None) -> SchemaTable | None:
    if schema is None:
        return None
    rows: list[dict[str, str]] = []
    for item in schema.items:
        if isinstance(item, ColSpec):
            rows.append(
                {
                    "name": item.name or "",
                    "type": item.type,
                    "required": "yes" if item.required else "no",
                    "detail": json.dumps(dict(item.detail), ensure_ascii=False) if item.detail else "",
                }
            )
        else:
            shape = "(" + ", ".join(str(d) for d in item.shape) + ")"
            rows.append({"name": item.name or "", "type": item.dtype, "shape": shape})
    return SchemaTable(tensors=schema.is_tensor_based, rows=rows)


def _mlmodel(text: str, size: int | None) -> Preview:
    try:
        spec = parse_mlmodel(text)
    except InvalidParameter as exc:
        return _plain(text, size, f"Not a valid MLmodel file ({exc.message}): shown as plain text.")
    flavors = [
        (name, [(str(k), _scalar(v)) for k, v in sorted(conf.items(), key=lambda kv: str(kv[0]))])
        for name, conf in spec.flavors.items()
    ]
    facts = [
        (label, str(value))
        for label, value in (
            ("Run", spec.run_id),
            ("Artifact path", spec.artifact_path),
            ("Model id", spec.model_id),
            ("Model UUID", spec.model_uuid),
            ("Created (UTC)", spec.utc_time_created),
            ("MLflow version", spec.mlflow_version),
            ("modelyard version", spec.modelyard_version),
            ("Size in bytes", spec.model_size_bytes),
            (
                "Input example",
                spec.saved_input_example_info.artifact_path if spec.saved_input_example_info else None,
            ),
        )
        if value is not None
    ]
    signature = spec.signature
    params = None
    if signature is not None and signature.params is not None:
        params = [
            {
                "name": p.name,
                "type": p.type,
                "default": _scalar(p.default),
                "shape": "" if p.shape is None else "(" + ", ".join(str(d) for d in p.shape) + ")",
            }
            for p in signature.params
        ]
    model = ModelPreview(
        flavors=flavors,
        facts=facts,
        inputs=_schema_table(signature.inputs) if signature else None,
        outputs=_schema_table(signature.outputs) if signature else None,
        params=params,
    )
    out = _capped(Preview("mlmodel", size, model=model), text)
    return out
