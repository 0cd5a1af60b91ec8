"""The runs table's state in the URL, and how its cells read.

Everything a user sets is a query parameter, so a reload or a shared link shows the same view:
``filter`` (run search's grammar), ``sort`` and ``dir``, ``cols`` (comma-separated column ids,
``domain.run_table``), ``deleted=1``, ``open`` (runs whose children are shown), ``sel`` (selected
runs) and ``from`` (the run at the top of the window). ``/runs`` also takes ``experiments`` (ids,
comma-separated). A bad parameter is refused naming it; a filter the grammar refuses is not a
parameter error but shown next to the search box.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.run_table import (
    DEFAULT_SORT,
    SOURCE_TAG,
    Column,
    ColumnKind,
    Sort,
    default_columns,
    parse_columns,
    parse_sort,
)
from modelyard.services.tracking.run_table import TableQuery, TableRow

MAX_SELECTED = 200
MAX_OPEN = 200
MAX_FILTER = 4000
PAGE_ROWS = 80
_RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
FRAGMENT_ROWS = "/ui/fragments/runs-table/rows"
FRAGMENT_COUNT = "/ui/fragments/runs-table/count"


def _ids(params: QueryParams, name: str, limit: int) -> tuple[str, ...]:
    raw = params.get(name) or ""
    out = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    for value in out:
        if not _RUN_ID.fullmatch(value):
            raise InvalidParameter(f"Invalid run id '{value[:80]}' in parameter '{name}'.")
    if len(out) > limit:
        raise InvalidParameter(f"Too many runs in parameter '{name}': {len(out)}; at most {limit}.")
    return out


def run_id_param(params: QueryParams, name: str) -> str | None:
    value = params.get(name) or None
    if value is not None and not _RUN_ID.fullmatch(value):
        raise InvalidParameter(f"Invalid run id '{value[:80]}' in parameter '{name}'.")
    return value


def experiment_ids(params: QueryParams) -> tuple[str, ...]:
    """``experiments=1,2`` (repeating the parameter works too)."""
    out: list[str] = []
    for raw in params.getlist("experiments"):
        out += [p.strip() for p in raw.split(",") if p.strip()]
    if not out:
        raise InvalidParameter(
            "Missing value for parameter 'experiments': name the experiments whose runs to show, "
            "e.g. /runs?experiments=1,2."
        )
    for value in out:
        if not value.isdigit():
            raise InvalidParameter(
                f"Invalid experiment id '{value[:80]}' in parameter 'experiments': ids are integers."
            )
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class TableState:
    """One view of the table: what the URL says."""

    base: str  # the page's path: /experiments/<id> or /runs
    experiment_ids: tuple[str, ...]
    filter: str = ""
    sort: Sort = DEFAULT_SORT
    columns: tuple[Column, ...] | None = None  # None: not named in the URL (the default ones)
    columns_named: bool = False  # the URL names the columns (else URLs leave them out)
    deleted: bool = False
    open: tuple[str, ...] = ()
    selected: tuple[str, ...] = ()
    start: str | None = None

    @classmethod
    def parse(cls, base: str, ids: tuple[str, ...], params: QueryParams) -> TableState:
        text = params.get("filter") or ""
        if len(text) > MAX_FILTER:
            raise InvalidParameter(
                f"The value of parameter 'filter' is too long: at most {MAX_FILTER} characters."
            )
        cols = params.get("cols")
        if cols is None and "col" in params:  # the column chooser's form sends one parameter per column
            cols = ",".join(params.getlist("col"))
        columns = parse_columns(cols)
        deleted = params.get("deleted") or ""
        if deleted not in ("", "0", "1"):
            raise InvalidParameter(
                f"Invalid value '{deleted[:20]}' for parameter 'deleted': expected 1 or 0."
            )
        return cls(
            base=base,
            experiment_ids=ids,
            filter=text.strip(),
            sort=parse_sort(params.get("sort"), params.get("dir")),
            columns=tuple(columns) if columns is not None else None,
            columns_named=columns is not None,
            deleted=deleted == "1",
            open=_ids(params, "open", MAX_OPEN),
            selected=_ids(params, "sel", MAX_SELECTED),
            start=run_id_param(params, "from"),
        )

    @property
    def several(self) -> bool:
        return self.base == "/runs"

    def with_defaults(self, params: list[str], metrics: list[str]) -> TableState:
        """The state with the default columns (of these keys) when the URL names none."""
        if self.columns is not None:
            return self
        return replace(
            self, columns=tuple(default_columns(params, metrics, several_experiments=self.several))
        )

    def query(self) -> TableQuery:
        return TableQuery(
            experiment_ids=self.experiment_ids,
            filter=self.filter,
            sort=self.sort,
            columns=self.columns or (),
            deleted=self.deleted,
            open=frozenset(self.open),
        )

    # -- URLs
    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The query string of this view with ``changes`` (a value of None or "" drops it)."""
        values: dict[str, Any] = {
            "experiments": ",".join(self.experiment_ids) if self.several else "",
            "filter": self.filter,
            "sort": "" if self.sort == DEFAULT_SORT else self.sort.column.id,
            "dir": "" if self.sort == DEFAULT_SORT else ("asc" if self.sort.ascending else "desc"),
            "cols": ",".join(c.id for c in self.columns or ()) if self.columns_named else None,
            "deleted": "1" if self.deleted else "",
            "open": ",".join(self.open),
            "sel": ",".join(self.selected),
            "from": self.start or "",
        }
        values.update(changes)
        # "cols=" (no column but the name) differs from no cols parameter (the default columns)
        return [(k, str(v)) for k, v in values.items() if v is not None and (v != "" or k == "cols")]

    def url(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return self.base + (f"?{query}" if query else "")

    def fragment(self, path: str) -> str:
        """A fragment's URL for this view (its columns named), without the window's position."""
        cols = ",".join(c.id for c in self.columns or ())
        params = self.params(cols=cols or None, sel=None, **{"from": None})
        if not self.several:
            params.append(("experiments", ",".join(self.experiment_ids)))
        return f"{path}?{urlencode(params)}"

    def sort_url(self, column: Column) -> str:
        """Sorting by a column: its natural direction first (numbers and times high to low), the
        other direction when it already sorts the table; the window goes back to the top."""
        ascending = not self.sort.ascending if self.sort.column == column else not column.numeric
        sort = Sort(column, ascending)
        if sort == DEFAULT_SORT:
            return self.url(sort=None, dir=None, **{"from": None})
        return self.url(sort=column.id, dir="asc" if ascending else "desc", **{"from": None})

    def aria_sort(self, column: Column) -> str:
        if self.sort.column != column:
            return "none"
        return "ascending" if self.sort.ascending else "descending"

    def toggle_open(self, run_id: str) -> str:
        opened = tuple(r for r in self.open if r != run_id) if run_id in self.open else (*self.open, run_id)
        return self.url(open=",".join(opened))


# ---- cells ------------------------------------------------------------------------------------------


def number(value: float | None) -> str:
    """A metric as the table shows it: up to 6 significant digits."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"


def duration(start: int, end: int | None) -> str:
    if end is None:
        return "—"
    seconds = max(0, end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    title: str = ""
    numeric: bool = False
    missing: bool = False


def cell(
    row: TableRow,
    column: Column,
    experiment_names: Mapping[str, str],
    extremes: Mapping[tuple[str, str], tuple[float | None, float | None]],
) -> Cell:
    """What one cell says (the name and time cells are written by the template)."""
    run = row.run
    kind, key = column.kind, column.key
    if kind is ColumnKind.PARAM or kind is ColumnKind.TAG:
        text = (run.params if kind is ColumnKind.PARAM else run.tags).get(key)
        return Cell("—", missing=True) if text is None else Cell(text, title=text)
    if kind is ColumnKind.METRIC:
        found = run.metrics.get(key)
        return Cell(
            number(found), title=repr(found) if found is not None else "", numeric=True, missing=found is None
        )
    if kind in (ColumnKind.METRIC_MIN, ColumnKind.METRIC_MAX):
        low, high = extremes.get((run.run_id, key), (None, None))
        bound = low if kind is ColumnKind.METRIC_MIN else high
        return Cell(
            number(bound), title=repr(bound) if bound is not None else "", numeric=True, missing=bound is None
        )
    if key == "duration":
        return Cell(duration(run.start_time, run.end_time), numeric=True, missing=run.end_time is None)
    if key == "user_id":
        return Cell(run.user_id or "—", title=run.user_id, missing=not run.user_id)
    if key == "source":
        named = run.tags.get(SOURCE_TAG)
        return Cell(named or "—", title=named or "", missing=not named)
    if key == "experiment_id":
        eid = str(run.experiment_id)
        name = experiment_names.get(eid, eid)
        return Cell(name, title=f"{name} (id {eid})")
    if key == "run_id":
        return Cell(run.run_id, title=run.run_id)
    if key == "status":
        return Cell(run.status)
    return Cell(run.name or run.run_id, title=run.name)
