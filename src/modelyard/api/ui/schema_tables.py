"""Schemas as tables for the registry and datasets pages: a model signature (inputs, outputs, params),
a dataset version's schema and profile as MLflow logs them, and an input example.

Each turns what was logged into ``Table``s of plain strings (the template escapes them); whatever does
not have a known shape is shown as its JSON text instead (``raw``), never dropped and never an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelyard.domain.model_signature import ColSpec, ParamSpec, Schema, Signature, TensorSpec

EXAMPLE_ROWS = 20  # rows of an input example shown as a table
NONE = "—"


@dataclass(frozen=True, slots=True)
class Table:
    caption: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[str]]
    note: str = ""  # e.g. "first 20 of 150 rows"


@dataclass(frozen=True, slots=True)
class Shown:
    """Tables when the value had a known shape, else its text in ``raw`` (pretty JSON when it parsed)."""

    tables: list[Table] = field(default_factory=list)
    raw: str | None = None


def text(value: Any) -> str:
    """A cell: strings as they are, anything else as compact JSON."""
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _shape(shape: Sequence[int] | None) -> str:
    return NONE if shape is None else "(" + ", ".join(str(d) for d in shape) + ")"


# ---- model signatures -----------------------------------------------------------------------------
SIGNATURE_COLUMNS = ("Name", "Type", "Shape", "Required")


def _item_row(item: ColSpec | TensorSpec, index: int) -> tuple[str, ...]:
    name = item.name if item.name is not None else f"(position {index})"
    if isinstance(item, TensorSpec):
        return (name, f"tensor of {item.dtype}", _shape(item.shape), "yes")
    kind = item.type
    if item.detail:
        kind = f"{kind} {text(dict(item.detail))}"
    return (name, kind, NONE, "yes" if item.required else "no")


def _schema_table(caption: str, schema: Schema) -> Table:
    items: Sequence[ColSpec | TensorSpec] = schema.items
    return Table(caption, SIGNATURE_COLUMNS, [_item_row(item, i) for i, item in enumerate(items)])


def _params_table(params: Sequence[ParamSpec]) -> Table:
    rows = [(p.name, p.type, text(p.default), _shape(p.shape)) for p in params]
    return Table("Parameters", ("Name", "Type", "Default", "Shape"), rows)


def signature_tables(signature: Signature) -> list[Table]:
    tables = [_schema_table("Inputs", signature.inputs)]
    if signature.outputs is not None:
        tables.append(_schema_table("Outputs", signature.outputs))
    if signature.params:
        tables.append(_params_table(signature.params))
    return tables


# ---- dataset schema and profile --------------------------------------------------------------------
def _parse(raw: str | None) -> tuple[Any, str | None]:
    """(value, None) when ``raw`` is JSON, else (None, the text as it is)."""
    if raw is None or raw == "":
        return None, None
    try:
        return json.loads(raw), None
    except ValueError:
        return None, raw


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _column_rows(items: Sequence[Any]) -> list[tuple[str, ...]] | None:
    rows: list[tuple[str, ...]] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            return None
        name = item.get("name", f"(position {i})")
        if item.get("type") == "tensor" and isinstance(item.get("tensor-spec"), Mapping):
            spec = item["tensor-spec"]
            shape = spec.get("shape")
            rows.append(
                (
                    text(name),
                    f"tensor of {text(spec.get('dtype'))}",
                    _shape(shape) if isinstance(shape, list) else text(shape),
                    "yes",
                )
            )
            continue
        detail = {k: v for k, v in item.items() if k not in ("name", "type", "required")}
        kind = text(item.get("type"))
        if detail:
            kind = f"{kind} {text(detail)}"
        rows.append((text(name), kind, NONE, "no" if item.get("required") is False else "yes"))
    return rows


def _loaded(value: Any) -> Any:
    """A part of a schema: JSON text is parsed (the tensor spec keeps its parts as text)."""
    if isinstance(value, str):
        parsed, unparsed = _parse(value)
        return value if unparsed is not None else parsed
    return value


def _schema_parts(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(caption, list of items) for each part of a schema object."""
    parts: list[tuple[str, Any]] = []
    for key, raw in value.items():
        part = _loaded(raw)
        if key == "mlflow_tensorspec" and isinstance(part, Mapping):
            parts.extend((f"Tensors: {sub}", _loaded(items)) for sub, items in part.items())
        else:
            parts.append(("Columns" if key == "mlflow_colspec" else str(key), part))
    return parts


def dataset_schema(raw: str | None) -> Shown:
    """MLflow writes ``{"mlflow_colspec": [...]}`` (pandas, Spark, ...) or ``{"mlflow_tensorspec":
    {"features": "<json>", "targets": "<json>"}}`` (numpy); each part becomes a table. A schema of
    any other shape is shown as its JSON."""
    value, unparsed = _parse(raw)
    if unparsed is not None:
        return Shown(raw=unparsed)
    if value is None:
        return Shown()
    parts = _schema_parts(value) if isinstance(value, Mapping) else [("Columns", value)]
    tables: list[Table] = []
    for caption, items in parts:
        rows = _column_rows(items) if isinstance(items, list) else None
        if rows is None:
            return Shown(raw=_pretty(value))
        tables.append(Table(caption, SIGNATURE_COLUMNS, rows))
    return Shown(tables=tables) if tables else Shown(raw=_pretty(value))


def dataset_profile(raw: str | None) -> Shown:
    """A profile is a JSON object of statistics (``num_rows``, ``num_elements``, ``features_shape``):
    one row per entry."""
    value, unparsed = _parse(raw)
    if unparsed is not None:
        return Shown(raw=unparsed)
    if value is None:
        return Shown()
    if isinstance(value, Mapping):
        rows = [(str(k), text(v)) for k, v in value.items()]
        return Shown(tables=[Table("Profile", ("Statistic", "Value"), rows)])
    return Shown(raw=_pretty(value))


# ---- input examples --------------------------------------------------------------------------------
def _records_table(records: Sequence[Mapping[str, Any]]) -> Table:
    columns: list[str] = []
    for record in records[:EXAMPLE_ROWS]:
        columns.extend(str(k) for k in record if str(k) not in columns)
    rows = [tuple(text(r.get(c)) for c in columns) for r in records[:EXAMPLE_ROWS]]
    return Table("Input example", tuple(columns), rows, _note(len(records)))


def _note(count: int) -> str:
    return f"the first {EXAMPLE_ROWS} of {count} rows" if count > EXAMPLE_ROWS else ""


def input_example(value: Any) -> Shown:
    """A pandas example (``{"columns": [...], "data": [[...]]}``, what MLflow saves with the "split"
    orientation, or a list of records) as a table; any other example as its JSON."""
    if value is None:
        return Shown()
    if (
        isinstance(value, Mapping)
        and isinstance(value.get("columns"), list)
        and isinstance(value.get("data"), list)
    ):
        data = value["data"]
        if all(isinstance(row, list) for row in data):
            columns = tuple(text(c) for c in value["columns"])
            rows = [tuple(text(v) for v in row) for row in data[:EXAMPLE_ROWS]]
            return Shown(tables=[Table("Input example", columns, rows, _note(len(data)))])
    if isinstance(value, list) and value and all(isinstance(r, Mapping) for r in value):
        return Shown(tables=[_records_table(value)])
    return Shown(raw=_pretty(value))
