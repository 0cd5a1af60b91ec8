"""Search grammar refusals say where the problem is: the offending token's span and the clause that
holds it (character offsets into the text), for an editor that highlights it. The messages are the
ones the APIs answer (tests/domain/test_search.py checks those)."""

from __future__ import annotations

import pytest

from modelyard.domain.search import parse_experiment_filter, parse_filter, parse_order_by
from modelyard.domain.search_tokens import SearchSyntaxError


def refusal(text: str) -> SearchSyntaxError:
    with pytest.raises(SearchSyntaxError) as info:
        parse_filter(text)
    return info.value


def marked(error: SearchSyntaxError) -> tuple[str, str]:
    """(the offending text, the clause's text)."""
    return error.text[error.start : error.end], error.clause


@pytest.mark.parametrize(
    ("text", "token", "clause"),
    [
        # the bad clause is the second: its value is not quoted
        ("metrics.a > 1 and params.p = tree", "tree", "params.p = tree"),
        # an unknown entity: the whole identifier
        ("metrics.a > 1 AND metricz.b < 2 AND tags.t = 'x'", "metricz.b", "metricz.b < 2"),
        # a quoted key after a dot: the identifier runs to the closing backtick
        ("params.p = 'x' and foo.`a b` = 'y'", "foo.`a b`", "foo.`a b` = 'y'"),
        # an unknown attribute
        ("  status = 'A' and colour = 'red'", "colour", "colour = 'red'"),
        # a comparator a key does not take (all of NOT IN)
        ("metrics.a NOT IN ('1')", "NOT IN", "metrics.a NOT IN ('1')"),
        ("params.p IS NOT 'x'", "IS NOT 'x'", "params.p IS NOT 'x'"),
        ("metrics.a >> 1", ">>", "metrics.a >> 1"),
        ("metrics.a = '1'", "'1'", "metrics.a = '1'"),
        # OR is refused at the OR; the clause is everything between the ANDs around it
        ("tags.x = 'a' and metrics.a > 1 or metrics.b > 1", "or", "metrics.a > 1 or metrics.b > 1"),
        ("metrics.a > 1 metrics.b > 1", "metrics.b", "metrics.a > 1 metrics.b > 1"),
        ("run_id IN ('a' 'b') and status = 'X'", "'b'", "run_id IN ('a' 'b')"),
        ("run_id IN 'a'", "'a'", "run_id IN 'a'"),
        # quoted values with spaces and ANDs inside them are not clause boundaries
        ("tags.t = 'a and b' and params.p = 1", "1", "params.p = 1"),
        # the tokenizer's refusals: a character, a number, an unterminated quote (to the end)
        ("params.p = 'x' and metrics.a > 1 ; drop", ";", "metrics.a > 1 ; drop"),
        ("metrics.a > 1.2.3 and params.p = 'x'", "1.2.3", "metrics.a > 1.2.3"),
        ("params.a = 'x' and params.p = 'open", "'open", "params.p = 'open"),
    ],
)
def test_the_offending_token_and_its_clause(text: str, token: str, clause: str) -> None:
    error = refusal(text)
    assert marked(error) == (token, clause)
    assert error.text == text
    assert text[error.clause_start : error.clause_end] == clause
    assert error.clause_start <= error.start <= error.end <= len(text)


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("metrics.a >", "metrics.a >"),
        ("metrics.a > 1 and ", ""),
        ("metrics.a > 1 and params.p =  ", "params.p ="),
        ("run_id IN ('a',", "run_id IN ('a',"),
    ],
)
def test_a_text_that_ends_too_early_marks_its_end(text: str, clause: str) -> None:
    error = refusal(text)
    assert (error.start, error.end) == (len(text), len(text))
    assert error.clause == clause


def test_the_message_is_unchanged_and_positions_count_from_zero() -> None:
    text = "metrics.a > 1 and params.p = tree"
    error = refusal(text)
    assert error.message == (
        f"Invalid filter '{text}': expected a quoted string for param 'p' (e.g. 'my-value'), found "
        "'tree' at position 30. Quote values in single or double quotes."
    )
    assert error.start == 29  # the message's position counts from 1, as it always has


def test_order_by_entries_are_one_clause_each() -> None:
    with pytest.raises(SearchSyntaxError) as info:
        parse_order_by(["metrics.a DESC", "params.p DESC DESC"])
    assert marked(info.value) == ("DESC", "params.p DESC DESC")
    assert info.value.start == len("params.p DESC ")
    with pytest.raises(SearchSyntaxError) as info:
        parse_order_by(["datasets.name"])
    assert marked(info.value) == ("datasets.name", "datasets.name")
    with pytest.raises(SearchSyntaxError) as info:
        parse_order_by(["metrics.a", "metrics.a DESC"])
    assert marked(info.value) == ("metrics.a DESC", "metrics.a DESC")


def test_other_grammars_carry_positions_too() -> None:
    with pytest.raises(SearchSyntaxError) as info:
        parse_experiment_filter("name = 'x' and creation_time > 1.5")
    assert marked(info.value) == ("1.5", "creation_time > 1.5")
