"""The runs table's reads (``RunTableService``) against an order computed here in Python: every sort
in both directions, with ties, NaN and missing values, nested runs open and closed, read a window
at a time forwards and backwards; and its count, exact and estimated."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from modelyard.domain.identity import Principal
from modelyard.domain.run_table import Column, ColumnKind, Sort, parse_column
from modelyard.services import Services
from modelyard.services.tracking import run_table as service_module
from modelyard.services.tracking.run_table import TableQuery
from tests.ui.runs_data import BASE_MS, Spec, make_runs

N = 40


def _spec(i: int) -> Spec:
    metrics = {} if i % 11 == 0 else {"m": math.nan if i % 7 == 0 else float(i % 5)}
    params = {} if i % 6 == 0 else {"p": f"v{i % 4}"}
    tags = {} if i % 9 == 0 else {"mlflow.source.name": f"s{i % 3}.py", "t": "Zz" if i % 2 else "aa"}
    parent = None
    if i in (5, 6, 7, 30):
        parent = "r02"  # children of r02
    elif i == 8:
        parent = "r05"  # a grandchild
    elif i in (12, 13):
        parent = "r10"
    return Spec(
        f"r{i:02d}" if i % 10 else f"R{i:02d}",  # capitals sort before lower case (code points)
        params=params,
        metrics=metrics,
        tags=tags,
        parent=parent,
        start=i // 3,  # ties of three
        end=None if i % 8 == 0 else i // 3 + (i * 7) % 5,
    )


SPECS = [_spec(i) for i in range(N)]


@pytest.fixture
def table(services: Services, admin: Principal) -> tuple[str, dict[str, str]]:
    eid = services.experiments.create_experiment(admin, name="table")
    return eid, make_runs(services, admin, eid, _fixed_specs())


def _value(spec: Spec, column: Column, run_id: str) -> tuple[int, Any]:
    """(tier, value) of a run for a sort column, as the table orders it."""
    kind, key = column.kind, column.key
    if kind is ColumnKind.METRIC:
        if key not in spec.metrics:
            return 2, None
        value = spec.metrics[key]
        return (1, None) if math.isnan(value) else (0, value)
    if kind in (ColumnKind.PARAM, ColumnKind.TAG) or key == "source":
        source = spec.params if kind is ColumnKind.PARAM else spec.tags
        found = source.get("mlflow.source.name" if key == "source" else key)
        return (1, None) if found is None else (0, found)
    start = BASE_MS + spec.start * 1000
    end = None if spec.end is None else BASE_MS + spec.end * 1000
    if key == "start_time":
        return 0, start
    if key == "end_time":
        return (1, None) if end is None else (0, end)
    if key == "duration":
        return (1, None) if end is None else (0, end - start)
    if key == "name":
        return 0, spec.name
    if key == "status":
        return 0, "RUNNING" if end is None else "FINISHED"
    if key == "run_id":
        return 0, run_id
    raise AssertionError(key)


def _expected(
    ids: dict[str, str], sort: Sort, open_names: set[str], shown: Callable[[Spec], bool]
) -> list[str]:
    """The table's rows in display order: each level sorted, an open run's children after it."""
    by_name = {s.name: s for s in _fixed_specs()}
    visible = {name for name, s in by_name.items() if shown(s)}

    def key(name: str) -> tuple[Any, ...]:
        tier, value = _value(by_name[name], sort.column, ids[name])
        rid = ids[name]
        if sort.ascending:
            return (tier, value if value is not None else 0, rid)
        return (tier, _neg(value), _neg(rid))

    def children(parent: str | None) -> list[str]:
        out = []
        for name in visible:
            p = by_name[name].parent
            top = p is None or p not in visible
            if (parent is None and top) or (parent is not None and p == parent):
                out.append(name)
        return sorted(out, key=key)

    rows: list[str] = []

    def walk(parent: str | None) -> None:
        for name in children(parent):
            rows.append(name)
            if name in open_names:
                walk(name)

    walk(None)
    return rows


class _Neg:
    """Reverses the order of what it wraps (strings too)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Neg) -> bool:
        return bool(self.value > other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Neg) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _neg(value: Any) -> Any:
    if value is None:
        return 0
    return -value if isinstance(value, int | float) else _Neg(value)


def _fixed_specs() -> list[Spec]:
    """The specs with each parent named as made (r10 is R10); parents come before their children."""
    return [
        s if s.parent is None else Spec(**{**s.__dict__, "parent": SPECS[int(s.parent[1:])].name})
        for s in SPECS
    ]


SORTS = [
    "start_time",
    "end_time",
    "duration",
    "name",
    "status",
    "run_id",
    "source",
    "metric:m",
    "param:p",
    "tag:t",
]


def _read_forward(services: Services, admin: Principal, query: TableQuery, page: int) -> list[str]:
    window = services.run_table.window(admin, query, limit=page)
    got = [r.run.run_id for r in window.rows]
    while window.more_after:
        window = services.run_table.window(admin, query, after=got[-1], limit=page)
        got += [r.run.run_id for r in window.rows]
        assert len(got) <= N, "the walk went round"
    return got


def _read_backward(
    services: Services, admin: Principal, query: TableQuery, last: str, page: int
) -> list[str]:
    got = [last]
    while True:
        window = services.run_table.window(admin, query, before=got[0], limit=page)
        got = [r.run.run_id for r in window.rows] + got
        if not window.more_before:
            return got
        assert len(got) <= N


@pytest.mark.parametrize("column", SORTS)
def test_every_sort_reads_every_run_once_in_order_both_ways(
    services: Services, admin: Principal, table: tuple[str, dict[str, str]], column: str
) -> None:
    eid, ids = table
    names = {v: k for k, v in ids.items()}
    parents = {"r02", "r05", "R10"}
    for ascending in (True, False):
        for open_names in (set(), parents):
            sort = Sort(parse_column(column), ascending)
            query = TableQuery((eid,), sort=sort, open=frozenset(ids[n] for n in open_names))
            expected = _expected(ids, sort, open_names, lambda s: True)
            forward = [names[r] for r in _read_forward(services, admin, query, page=7)]
            assert forward == expected, (column, ascending, open_names)
            backward = [names[r] for r in _read_backward(services, admin, query, ids[expected[-1]], page=6)]
            assert backward == expected, (column, ascending, open_names)
            middle = expected[len(expected) // 2]
            window = services.run_table.window(admin, query, start=ids[middle], limit=5)
            at = expected.index(middle)
            assert [names[r.run.run_id] for r in window.rows] == expected[at : at + 5]
            assert window.more_before and window.more_after


def test_a_filter_applies_to_every_level_and_a_child_whose_parent_fails_it_is_top_level(
    services: Services, admin: Principal, table: tuple[str, dict[str, str]]
) -> None:
    eid, ids = table
    names = {v: k for k, v in ids.items()}
    sort = Sort(parse_column("name"), True)
    open_names = {"r02", "r05", "R10"}
    query = TableQuery(
        (eid,), filter="params.p = 'v1'", sort=sort, open=frozenset(ids[n] for n in open_names)
    )
    got = [names[r] for r in _read_forward(services, admin, query, page=4)]
    expected = _expected(ids, sort, open_names, lambda s: s.params.get("p") == "v1")
    assert got == expected
    # r05 (v1) is a child of r02 (v2): it stands at the top level
    assert "r05" in got and "r02" not in got
    window = services.run_table.window(admin, query, limit=50)
    depth = {names[r.run.run_id]: r.depth for r in window.rows}
    assert depth["r05"] == 0
    assert {names[r.run.run_id]: r.children for r in window.rows if r.children} == {
        n: sum(1 for s in _fixed_specs() if s.parent == n and s.params.get("p") == "v1")
        for n in got
        if any(s.parent == n and s.params.get("p") == "v1" for s in _fixed_specs())
    }


def test_children_counts_and_depth(
    services: Services, admin: Principal, table: tuple[str, dict[str, str]]
) -> None:
    eid, ids = table
    names = {v: k for k, v in ids.items()}
    query = TableQuery(
        (eid,), sort=Sort(parse_column("name"), True), open=frozenset({ids["r02"], ids["r05"]})
    )
    rows = services.run_table.window(admin, query, limit=100).rows
    shown = {names[r.run.run_id]: (r.depth, r.children, r.open) for r in rows}
    assert shown["r02"] == (0, 4, True)
    assert shown["r05"] == (1, 1, True)
    assert shown["r08"] == (2, 0, False)
    assert shown["R10"] == (0, 2, False)
    assert "r12" not in shown  # R10 is closed


def test_deleted_runs_are_hidden_unless_asked_for(
    services: Services, admin: Principal, table: tuple[str, dict[str, str]]
) -> None:
    eid, ids = table
    services.tracking.set_run_lifecycle(admin, ids["r01"], service_module.LifecycleStage.DELETED)
    active = _read_forward(services, admin, TableQuery((eid,)), page=50)
    assert ids["r01"] not in active
    every = _read_forward(services, admin, TableQuery((eid,), deleted=True), page=50)
    assert ids["r01"] in every
    count = services.run_table.count(admin, TableQuery((eid,)))
    assert (count.matching, count.deleted, count.exact) == (N - 1, 1, True)


def test_count_is_exact_or_a_labelled_estimate(
    services: Services, admin: Principal, table: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    eid, _ = table
    query = TableQuery((eid,), filter="metrics.m >= 2")
    exact = services.run_table.count(admin, query)
    expected = sum(
        1 for s in SPECS if "m" in s.metrics and not math.isnan(s.metrics["m"]) and s.metrics["m"] >= 2
    )
    assert (exact.matching, exact.total, exact.exact) == (expected, N, True)
    monkeypatch.setattr(service_module, "EXACT_COUNT_LIMIT", 10)
    monkeypatch.setattr(service_module, "COUNT_SAMPLE", 20)
    monkeypatch.setattr(service_module, "COUNT_DRIVE_LIMIT", 5)  # the filter no longer drives the count
    estimate = services.run_table.count(admin, query)
    assert not estimate.exact
    assert 0 < estimate.sampled < N
    assert estimate.total == N
    asked = services.run_table.count(admin, query, exact=True)
    assert (asked.matching, asked.exact) == (expected, True)
    # a filter on the runs' own fields is counted exactly whatever the number of runs
    on_names = services.run_table.count(admin, TableQuery((eid,), filter="run_name LIKE 'r%'"))
    assert (on_names.matching, on_names.exact) == (sum(1 for s in SPECS if s.name.startswith("r")), True)


def test_a_selective_filter_drives_the_read_and_agrees_with_the_walk(
    services: Services, admin: Principal, table: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    eid, _ = table
    for text in ("metrics.m = 3", "params.p = 'v2'", "tags.t = 'aa' and metrics.m < 2"):
        for column in ("metric:m", "name", "param:p"):
            query = TableQuery((eid,), filter=text, sort=Sort(parse_column(column), False))
            driven = _read_forward(services, admin, query, page=3)
            monkeypatch.setattr(service_module.sql, "DRIVE_LIMIT", 0)
            walked = _read_forward(services, admin, query, page=3)
            monkeypatch.undo()
            assert driven == walked and driven, (text, column)
