"""The search grammar: every entity spelling, quoting, operator and value form, and the errors."""

from __future__ import annotations

import pytest

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.search import (
    Comparison,
    Entity,
    Op,
    OrderBy,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_filter,
    parse_order_by,
    tokenize,
)

M, P, T, A, D = Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE, Entity.DATASET


def one(text: str) -> Comparison:
    (clause,) = parse_filter(text)
    return clause


def refused(text: str) -> str:
    with pytest.raises(InvalidParameter) as info:
        parse_filter(text)
    return info.value.message


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_filter_is_no_clauses(text: str | None) -> None:
    assert parse_filter(text) == []


@pytest.mark.parametrize(
    ("prefix", "entity"),
    [
        ("metrics", M),
        ("metric", M),
        ("params", P),
        ("param", P),
        ("parameters", P),
        ("parameter", P),
        ("tags", T),
        ("tag", T),
    ],
)
def test_every_entity_spelling(prefix: str, entity: Entity) -> None:
    value = "1" if entity is M else "'1'"
    assert one(f"{prefix}.k = {value}") == Comparison(entity, "k", Op.EQ, 1 if entity is M else "1")


@pytest.mark.parametrize("prefix", ["attributes", "attribute", "attr", "run", "ATTRIBUTES", ""])
def test_attribute_spellings_and_bare_keys(prefix: str) -> None:
    key = f"{prefix}.status" if prefix else "status"
    assert one(f"{key} = 'FINISHED'") == Comparison(A, "status", Op.EQ, "FINISHED")


@pytest.mark.parametrize("prefix", ["datasets", "dataset"])
@pytest.mark.parametrize("key", ["name", "digest", "context"])
def test_dataset_keys(prefix: str, key: str) -> None:
    assert one(f"{prefix}.{key} = 'x'") == Comparison(D, key, Op.EQ, "x")


def test_attribute_aliases() -> None:
    assert one("created > 5") == Comparison(A, "start_time", Op.GT, 5)
    assert one("attributes.Created <= 5") == Comparison(A, "start_time", Op.LE, 5)
    assert one("`run name` = 'a'") == Comparison(A, "run_name", Op.EQ, "a")
    assert one("attributes.\"Run Name\" LIKE 'a%'") == Comparison(A, "run_name", Op.LIKE, "a%")


def test_quoted_and_dotted_keys() -> None:
    assert one("metrics.`a b` > 1") == Comparison(M, "a b", Op.GT, 1)
    assert one("tags.\"mlflow.note\" = 'x'") == Comparison(T, "mlflow.note", Op.EQ, "x")
    assert one("tags.`mlflow.note` = 'x'") == Comparison(T, "mlflow.note", Op.EQ, "x")
    assert one("tags.mlflow.runName = 'x'") == Comparison(T, "mlflow.runName", Op.EQ, "x")
    assert one("`metrics.a b` < 2") == Comparison(M, "a b", Op.LT, 2)


def test_string_values_in_either_quote() -> None:
    assert one("params.p = 'single'").value == "single"
    assert one('params.p = "double"').value == "double"
    assert one("params.p = 'it''s'").value == "it's"
    assert one("params.p = 'it\\'s'").value == "it's"
    assert one('params.p = "say ""hi"""').value == 'say "hi"'
    assert one("params.p LIKE 'a\\_b%'").value == "a\\_b%"  # LIKE escapes are kept for storage
    assert one("params.p = ''").value == ""


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("-3", -3),
        ("+3", 3),
        ("0.5", 0.5),
        (".5", 0.5),
        ("-2.5", -2.5),
        ("1e3", 1000.0),
        ("-1.5E-2", -0.015),
        ("3.", 3.0),
    ],
)
def test_numbers(literal: str, value: float) -> None:
    clause = one(f"metrics.m >= {literal}")
    assert clause.value == value
    assert type(clause.value) is type(value)


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_numeric_comparators(op: str) -> None:
    assert one(f"metrics.m {op} 1").op == Op(op)
    assert one(f"attributes.end_time {op} 1").op == Op(op)
    assert one(f"start_time{op}1").op == Op(op)  # no spaces needed


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("params.p = 'a'", Op.EQ, "a"),
        ("params.p != 'a'", Op.NE, "a"),
        ("params.p LIKE 'a%'", Op.LIKE, "a%"),
        ("params.p like 'a%'", Op.LIKE, "a%"),
        ("params.p ILIKE 'A%'", Op.ILIKE, "A%"),
        ("params.p IS NULL", Op.IS_NULL, None),
        ("params.p is not null", Op.IS_NOT_NULL, None),
        ("tags.t IS NULL", Op.IS_NULL, None),
        ("tags.t IS NOT NULL", Op.IS_NOT_NULL, None),
    ],
)
def test_param_and_tag_comparators(text: str, op: Op, value: str | None) -> None:
    clause = one(text)
    assert (clause.op, clause.value) == (op, value)


def test_in_lists() -> None:
    assert one("run_id IN ('a', \"b\")") == Comparison(A, "run_id", Op.IN, ("a", "b"))
    assert one("attributes.run_id not in ('a')") == Comparison(A, "run_id", Op.NOT_IN, ("a",))
    assert one("datasets.name IN ('x','y')") == Comparison(D, "name", Op.IN, ("x", "y"))


def test_and_is_case_insensitive() -> None:
    assert parse_filter("metrics.a > 1 and params.b = 'x' AnD tags.c != 'y'") == [
        Comparison(M, "a", Op.GT, 1),
        Comparison(P, "b", Op.EQ, "x"),
        Comparison(T, "c", Op.NE, "y"),
    ]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("metrics.a > 1 or metrics.b > 1", ["OR", "'or' at position 15", "AND"]),
        ("metrics.a > 1 OR metrics.b > 1", ["OR", "'OR'"]),
        ("params.p = 1", ["quoted string", "param 'p'", "'1'"]),
        ("params.p = v1", ["quoted string", "'v1'"]),
        ("tags.t = `x`", ["quoted string", "found `x` at"]),
        ("metrics.m = '1'", ["number", "metric 'm'", "found '1' at position 13"]),
        ("metrics.m > abc", ["number", "'abc'"]),
        ("start_time > 'x'", ["number", "attribute 'start_time'"]),
        ("status IN ('a')", ["'IN'", "attribute 'status'", "Only run_id"]),
        ("metrics.m IS NULL", ["'IS NULL'", "metric 'm'"]),
        ("status IS NULL", ["'IS NULL'", "attribute 'status'"]),
        ("metrics.m LIKE '1'", ["'LIKE'", "metric 'm'"]),
        ("params.p > 'a'", ["'>'", "param 'p'"]),
        ("bogus.k = 'a'", ["unknown entity 'bogus'", "metrics"]),
        ("foo = 'a'", ["attribute key 'foo'", "run_name"]),
        ("datasets.size = 'a'", ["dataset key 'size'", "digest"]),
        ("metrics.m == 1", ["'=='"]),
        ("metrics.m <> 1", ["'<>'"]),
        ("metrics.m 1", ["comparator", "'1'"]),
        ("metrics.m >", ["number", "end of the filter"]),
        ("metrics.m > 1 and", ["expected a key", "end of the filter"]),
        ("metrics.m > 1 metrics.n > 2", ["expected AND", "'metrics.n'"]),
        ("(metrics.m > 1)", ["expected a key", "'('"]),
        ("run_id IN ()", ["non-empty list", "')'"]),
        ("run_id IN 'a'", ["parenthesised list", "found 'a' at"]),
        ("run_id IN ('a' 'b')", ["',' or ')'", "found 'b' at position 16"]),
        ("run_id IN ('a', 1)", ["quoted strings", "'1'"]),
        ("params.p = 'open", ["Unterminated quote", "position 12"]),
        ("tags.`open = 'x'", ["Unterminated quote"]),
        ("metrics.m > 1.2.3", ["Malformed number"]),
        ("metrics.m > 1 ; drop", ["Unexpected character ';'"]),
        ("params.p IS 'x'", ["IS NULL or IS NOT NULL"]),
        ("tags. = 'x'", ["expected a key after 'tags.'"]),
        ("tags.`` = 'x'", ["empty key"]),
    ],
)
def test_errors_name_the_offending_token(text: str, names: list[str]) -> None:
    message = refused(text)
    for name in names:
        assert name in message, message


def test_tokenizer_positions_and_values() -> None:
    tokens = tokenize("tags.`a b` = 'x''y'")
    assert [(t.text, t.value, t.pos) for t in tokens] == [
        ("tags", "tags", 0),
        (".", ".", 4),
        ("`a b`", "a b", 5),
        ("=", "=", 11),
        ("'x''y'", "x'y", 13),
    ]


# ---- order_by ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("metrics.rmse DESC", OrderBy(M, "rmse", ascending=False)),
        ("metrics.rmse desc", OrderBy(M, "rmse", ascending=False)),
        ("params.p0", OrderBy(P, "p0", ascending=True)),
        ("tags.t ASC", OrderBy(T, "t", ascending=True)),
        ("attributes.start_time ASC", OrderBy(A, "start_time", ascending=True)),
        ("start_time", OrderBy(A, "start_time", ascending=True)),
        ("created DESC", OrderBy(A, "start_time", ascending=False)),
        ("run_name", OrderBy(A, "run_name", ascending=True)),
        ("`metrics.a b` desc", OrderBy(M, "a b", ascending=False)),
        ("metrics.`a b` asc", OrderBy(M, "a b", ascending=True)),
        ('metrics."a.b"', OrderBy(M, "a.b", ascending=True)),
    ],
)
def test_order_by(clause: str, expected: OrderBy) -> None:
    assert parse_order_by([clause]) == [expected]


def test_order_by_keeps_order_and_allows_none() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by(["params.a", "metrics.b DESC"]) == [
        OrderBy(P, "a"),
        OrderBy(M, "b", ascending=False),
    ]


@pytest.mark.parametrize(
    ("clauses", "names"),
    [
        (["metrics.a up"], ["ASC or DESC", "'up'"]),
        (["metrics.a b desc"], ["ASC or DESC", "'b'", "backticks"]),
        (["metrics.a DESC DESC"], ["unexpected", "'DESC' at position 16"]),
        (["datasets.name"], ["cannot be ordered by a dataset"]),
        (["foo"], ["attribute key 'foo'"]),
        ([""], ["expected a key"]),
        (["metrics.a", "metrics.a DESC"], ["twice", "metric 'a'"]),
        (["start_time", "created DESC"], ["twice", "'start_time'"]),
    ],
)
def test_order_by_errors(clauses: list[str], names: list[str]) -> None:
    with pytest.raises(InvalidParameter) as info:
        parse_order_by(clauses)
    for name in names:
        assert name in info.value.message, info.value.message


# ---- experiments ---------------------------------------------------------------------------------


def test_experiment_filter() -> None:
    assert parse_experiment_filter("name LIKE 'prod-%' and tags.team = 'ml' and creation_time > 10") == [
        Comparison(A, "name", Op.LIKE, "prod-%"),
        Comparison(T, "team", Op.EQ, "ml"),
        Comparison(A, "creation_time", Op.GT, 10),
    ]
    assert parse_experiment_filter("attribute.experiment_id IN ('1', '2')") == [
        Comparison(A, "experiment_id", Op.IN, ("1", "2"))
    ]
    assert parse_experiment_filter("tags.t IS NULL") == [Comparison(T, "t", Op.IS_NULL, None)]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("metrics.m > 1", "unknown entity 'metrics'"),
        ("params.p = 'a'", "unknown entity 'params'"),
        ("status = 'a'", "attribute key 'status'"),
        ("name IN ('a')", "'IN'"),
        ("name IS NULL", "'IS NULL'"),
        ("creation_time > 1.5", "whole number"),
        ("last_update_time > '1'", "number"),
        ("name = 'a' OR name = 'b'", "OR"),
    ],
)
def test_experiment_filter_errors(text: str, name: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        parse_experiment_filter(text)
    assert name in info.value.message


def test_experiment_order_by() -> None:
    assert parse_experiment_order_by(["name", "last_update_time DESC"]) == [
        OrderBy(A, "name"),
        OrderBy(A, "last_update_time", ascending=False),
    ]
    with pytest.raises(InvalidParameter, match="cannot be ordered by a tag"):
        parse_experiment_order_by(["tags.t"])
