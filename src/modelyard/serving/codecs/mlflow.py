"""MLflow's scoring protocol (``POST /invocations``), as ``mlflow models serve`` speaks it.

A JSON body holds exactly one of ``dataframe_split`` (``{"columns", "data"}``), ``dataframe_records``
(a list of row objects), ``instances`` or ``inputs`` (TF-serving style: a list of rows, a list of row
objects, or an object of named columns/tensors), plus optional ``params``. A ``text/csv`` body is a
table with a header row. The response is ``{"predictions": ...}``: arrays as nested lists, tables as
records, named outputs as an object.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from modelyard.serving.codecs.jsonio import is_frame, is_series
from modelyard.serving.errors import BadRequest
from modelyard.serving.payload import Payload, Rows, Table
from modelyard.serving.signature import InputEnforcer

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
)


def decode_json(document: Any) -> tuple[Payload, dict[str, Any] | None]:
    """The payload and the ``params`` of a JSON scoring request."""
    if isinstance(document, list):
        raise BadRequest(f"{REQUIRED_INPUT_FORMAT}. Received a list.")
    if not isinstance(document, dict):
        raise BadRequest(f"{REQUIRED_INPUT_FORMAT}. Received a {type(document).__name__}.")
    present = [key for key in FORMATS if key in document]
    if len(present) != 1:
        raise BadRequest(f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {list(document)}.")
    key = present[0]
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest(f"'params' must be a JSON object of parameter names to values, got {_kind(params)}")
    data = document[key]
    if key == "dataframe_split":
        return _split(data), params
    if key == "dataframe_records":
        if not isinstance(data, list):
            raise BadRequest(f"'dataframe_records' must be a list of row objects, got {_kind(data)}")
        return records(data), params
    if isinstance(data, dict):
        return Table(data), params
    if not isinstance(data, list):
        return Rows([data]), params
    if data and isinstance(data[0], dict) and all(isinstance(row, dict) for row in data):
        return records(data), params
    return Rows(data), params


def _split(data: Any) -> Payload:
    if not isinstance(data, dict) or "data" not in data:
        raise BadRequest(
            "'dataframe_split' must be an object with 'data' (a list of rows) and usually 'columns', "
            'as pandas writes it: {"columns": ["a", "b"], "data": [[1, 2]]}'
        )
    rows, columns = data["data"], data.get("columns")
    if not isinstance(rows, list):
        raise BadRequest(f"'dataframe_split.data' must be a list of rows, got {_kind(rows)}")
    if columns is not None and not (
        isinstance(columns, list) and all(isinstance(c, str | int) for c in columns)
    ):
        raise BadRequest("'dataframe_split.columns' must be a list of column names")
    if rows and not isinstance(rows[0], list):
        rows = [[v] for v in rows]  # one column given as a flat list
    return Rows(rows, names=[str(c) for c in columns] if columns is not None else None)


def records(rows: list[Any]) -> Table:
    """Row objects to columns; a key missing from a row is a null there."""
    names: dict[str, None] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise BadRequest(f"each record must be a JSON object of column to value, got {_kind(row)}")
        names.update(dict.fromkeys(row))
    return Table({name: [row.get(name) for row in rows] for name in names})


def decode_csv(body: bytes, enforcer: InputEnforcer) -> Payload:
    """A CSV table with a header row; values become numbers where the signature (or, without one,
    the text itself) says they are numbers."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the CSV body is not UTF-8 text") from None
    try:
        lines = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise BadRequest(f"the body is not valid CSV: {exc}") from None
    lines = [line for line in lines if line]
    if not lines:
        raise BadRequest("the CSV body is empty; send a header row and at least one data row")
    header, rows = lines[0], lines[1:]
    bad = [i + 2 for i, row in enumerate(rows) if len(row) != len(header)]
    if bad:
        raise BadRequest(f"CSV rows {bad[:5]} do not have {len(header)} values like the header {header}")
    types = enforcer.declared_column_types()
    columns = {}
    for index, name in enumerate(header):
        values = [row[index] for row in rows]
        columns[name] = _parse_column(values, types.get(name), name)
    return Table(columns)


def _parse_column(values: list[str], declared: str | None, name: str) -> list[Any]:
    if declared in ("string", "binary", "datetime"):
        return list(values)
    parsers: dict[str, Callable[[str], Any]] = {
        "double": float,
        "float": float,
        "long": int,
        "integer": int,
        "boolean": _bool,
    }
    parse = parsers.get(declared or "")
    if parse is not None:
        try:
            return [None if v == "" else parse(v) for v in values]
        except ValueError:
            bad = next(v for v in values if v != "" and not _parses(parse, v))
            raise BadRequest(f"CSV column '{name}': {bad!r} is not a {declared}") from None
    for guess in (int, float):  # no signature: numbers where every value is one
        if all(v == "" or _parses(guess, v) for v in values):
            return [None if v == "" else guess(v) for v in values]
    return list(values)


def _parses(parse: Callable[[str], Any], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(value)


def encode(output: Any) -> dict[str, Any]:
    return {"predictions": predictions(output)}


def predictions(output: Any) -> Any:
    if is_frame(output):  # records, as MLflow writes a DataFrame
        return output.to_dict(orient="records")
    if is_series(output):
        return output.to_numpy()
    return output


def _kind(value: Any) -> str:
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return names.get(type(value), type(value).__name__)
