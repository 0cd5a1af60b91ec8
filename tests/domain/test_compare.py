"""The compare page's pure rules: which run ids a comparison asks for, what differs, and which params
are numbers."""

from __future__ import annotations

import math

import pytest

from modelyard.domain.charts import MAX_SERIES_RUNS
from modelyard.domain.compare import (
    MAX_COMPARE_RUNS,
    DimensionKind,
    could_be_run_id,
    diff_rows,
    differs,
    format_number,
    metric_dimension,
    metric_rows,
    param_dimension,
    parse_number,
    parse_run_ids,
)
from modelyard.domain.errors import InvalidParameter


def test_run_ids_are_split_stripped_and_kept_once_in_order() -> None:
    assert parse_run_ids(" b , a,,b ,c,") == ["b", "a", "c"]
    assert parse_run_ids("") == []
    assert parse_run_ids(None) == []


def test_the_chart_data_endpoint_takes_every_run_of_a_comparison_in_one_call() -> None:
    assert MAX_COMPARE_RUNS <= MAX_SERIES_RUNS  # compare-lines.js asks for all the runs at once


def test_the_limit_is_a_refusal_that_names_the_parameter_and_the_limit() -> None:
    ids = ",".join(f"{i:032x}" for i in range(MAX_COMPARE_RUNS + 1))
    with pytest.raises(InvalidParameter) as refused:
        parse_run_ids(ids)
    assert "'runs' lists 201 runs" in refused.value.message
    assert f"at most {MAX_COMPARE_RUNS}" in refused.value.message
    exactly = ",".join(f"{i:032x}" for i in range(MAX_COMPARE_RUNS))
    assert len(parse_run_ids(exactly + "," + f"{0:032x}")) == MAX_COMPARE_RUNS  # a repeat is no extra run


@pytest.mark.parametrize(
    ("run_id", "ok"),
    [("0123456789abcdef0123456789abcdef", True), ("run_1-A", True), ("", False), ("a" * 65, False),
     ("<script>", False), ("a,b", False), ("é", False)],
)  # fmt: skip
def test_only_what_could_be_a_run_id_is_looked_up(run_id: str, ok: bool) -> None:
    assert could_be_run_id(run_id) is ok


def test_values_differ_when_not_all_the_same_and_missing_is_a_value() -> None:
    assert not differs(["a", "a", "a"])
    assert differs(["a", "b"])
    assert differs(["a", None])
    assert not differs([None, None])
    assert not differs([math.nan, math.nan])
    assert differs([math.nan, 1.0])
    assert not differs([])


def test_diff_rows_cover_every_key_sorted_with_missing_values() -> None:
    rows = diff_rows([{"lr": "0.1", "opt": "adam"}, {"lr": "0.2", "opt": "adam", "seed": "1"}])
    assert [(r.key, r.values, r.differs) for r in rows] == [
        ("lr", ("0.1", "0.2"), True),
        ("opt", ("adam", "adam"), False),
        ("seed", (None, "1"), True),
    ]
    assert diff_rows([]) == []


def test_metric_rows_show_numbers_exactly_and_compare_the_numbers() -> None:
    rows = metric_rows([{"loss": 0.1, "n": 3.0, "bad": math.nan}, {"loss": 0.1, "n": 4.0, "bad": math.nan}])
    by_key = {r.key: r for r in rows}
    assert by_key["loss"].values == ("0.1", "0.1") and not by_key["loss"].differs
    assert by_key["n"].values == ("3", "4") and by_key["n"].differs
    assert by_key["bad"].values == ("NaN", "NaN") and not by_key["bad"].differs


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.30000000000000004, "0.30000000000000004"), (2.0, "2"), (-1e20, "-1e+20"), (1e-7, "1e-07"),
     (math.inf, "Infinity"), (-math.inf, "-Infinity"), (math.nan, "NaN")],
)  # fmt: skip
def test_numbers_are_written_so_that_they_read_back_the_same(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("text", "number"),
    [("0.01", 0.01), ("1e-3", 0.001), (" 2 ", 2.0), ("-.5", -0.5), ("+3", 3.0), ("1.", 1.0),
     ("nan", None), ("inf", None), ("1e999", None), ("0x10", None), ("1_000", None), ("adam", None),
     ("", None), ("1,5", None)],
)  # fmt: skip
def test_a_param_is_a_number_only_when_it_reads_as_a_finite_decimal(text: str, number: float | None) -> None:
    assert parse_number(text) == number


def test_a_param_dimension_is_numeric_when_every_present_value_is_a_number() -> None:
    numeric = param_dimension("lr", ["0.1", None, "1e-2"])
    assert numeric.numeric and numeric.values == (0.1, None, 0.01) and numeric.categories == []
    assert numeric.id == "p.lr" and numeric.label == "param: lr" and numeric.kind is DimensionKind.PARAM
    mixed = param_dimension("opt", ["adam", "0.1", None, "sgd"])
    assert not mixed.numeric
    assert mixed.values == ("adam", "0.1", None, "sgd")
    assert mixed.categories == ["0.1", "adam", "sgd"]
    assert not param_dimension("none", [None, None]).numeric


def test_a_metric_dimension_leaves_out_non_finite_values() -> None:
    dim = metric_dimension("loss", [0.5, math.nan, None, math.inf])
    assert dim.numeric and dim.values == (0.5, None, None, None) and dim.id == "m.loss"
