"""What a protocol codec decodes a request into, before the signature has had its say.

Four shapes cover the three protocols. JSON has no dtypes, so JSON data stays as the client sent
it (``Rows``, ``Table``) until the signature says what each value should become; only the V2
protocol names a datatype per tensor, so its inputs arrive as typed numpy arrays (``Tensors``).
``Raw`` is Seldon's ``strData``/``binData``/``jsonData``: handed to the model as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Rows:
    """Row-major data: a nested list from JSON (or an array already shaped, e.g. Seldon's
    ``tensor``), with column names when the request gave them (Seldon's ``data.names``)."""

    rows: Any
    names: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """Named columns from JSON: column name to the list of its values (all the same length)."""

    columns: dict[str, list[Any]]


@dataclass(frozen=True, slots=True)
class Tensors:
    """Named tensors whose dtype the client declared (V2 ``inputs``): name to numpy array."""

    tensors: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Raw:
    """A value passed to the model untouched (a string, bytes or a JSON document)."""

    value: Any


Payload = Rows | Table | Tensors | Raw
