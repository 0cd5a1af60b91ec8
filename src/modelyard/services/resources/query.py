"""From a client's list query (filters, page, order) to checked storage conditions, for one resource.

Everything a client sends is checked against the declaration before any SQL runs: the column exists
and can be filtered, the operator is one the column allows, the value has the column's type (and fits
the database: 64-bit integers, no NUL characters). Each refusal is an ``InvalidParameter`` that names
what was wrong and lists what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.domain.errors import InvalidParameter
from modelyard.services.resources.forms import as_bool, as_int, as_str, show_value
from modelyard.services.resources.spec import (
    Column,
    ColumnType,
    ManyToMany,
    ResourceRegistry,
    ResourceSpec,
)
from modelyard.storage.resource_query import LIKE_OPS, Condition, Op, Order

MAX_FILTERS = 50
MAX_LIST_VALUES = 1000
MAX_PAGE = 10**9
FILTER_KEYS = ("col", "opr", "value")
_NULLABLE_OPS = (Op.EQ, Op.NEQ, Op.REL_O_M, Op.NREL_O_M)


@dataclass(frozen=True, slots=True)
class ListRequest:
    """A list query as the client sent it; values are unchecked (JSON values or query-string text)."""

    filters: Any = None
    page: Any = None
    page_size: Any = None
    order_column: Any = None
    order_direction: Any = None


@dataclass(frozen=True, slots=True)
class ListPlan:
    conditions: list[Condition]
    order: list[Order]
    offset: int
    limit: int


def plan(spec: ResourceSpec, registry: ResourceRegistry, request: ListRequest) -> ListPlan:
    offset, limit = _paging(spec, request.page, request.page_size)
    return ListPlan(
        conditions=_conditions(spec, registry, request.filters),
        order=_order(spec, request.order_column, request.order_direction),
        offset=offset,
        limit=limit,
    )


def key_type(spec: ResourceSpec) -> ColumnType:
    return spec.pk_column.type


def coerce_key(spec: ResourceSpec, raw: Any) -> Any:
    """A primary key from a path or a body, in the column's type; a 400 for a malformed one."""
    what = f"The {spec.name} id {show_value(raw)}"
    if key_type(spec) is ColumnType.INTEGER:
        bits = spec.int_bits(spec.pk_column)
        try:
            return as_int(raw, what, bits)
        except InvalidParameter:
            raise InvalidParameter(f"{what} is not valid: {spec.name} ids are {bits}-bit integers.") from None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    return as_str(raw, what)


def _paging(spec: ResourceSpec, page: Any, page_size: Any) -> tuple[int, int]:
    bounds = f"between 1 and {spec.max_page_size}"
    size = spec.page_size if page_size in (None, "") else as_int(page_size, f"page_size ({bounds})")
    if not 1 <= size <= spec.max_page_size:
        raise InvalidParameter(f"page_size must be {bounds} for resource '{spec.name}', got {size}.")
    number = 0 if page in (None, "") else as_int(page, "page (0-based)")
    if not 0 <= number <= MAX_PAGE:
        raise InvalidParameter(f"page is 0-based and must be between 0 and {MAX_PAGE}, got {number}.")
    return number * size, size


def _order(spec: ResourceSpec, column: Any, direction: Any) -> list[Order]:
    explicit = column not in (None, "")
    name = column if explicit else spec.order_column
    found = spec.column(name) if isinstance(name, str) else None
    if found is None or not found.orderable:
        raise InvalidParameter(
            f"Cannot order resource '{spec.name}' by {show_value(name)}; orderable columns: "
            f"{', '.join(spec.orderable)}."
        )
    if direction in (None, ""):
        descending = not explicit and spec.order_direction == "desc"
    elif isinstance(direction, str) and direction.lower() in ("asc", "desc"):
        descending = direction.lower() == "desc"
    else:
        raise InvalidParameter(f"order_direction must be 'asc' or 'desc', got {show_value(direction)}.")
    order = [Order(spec.attribute(found), descending, spec.nullable(found))]
    if found is not spec.pk_column:  # a unique tie-break keeps pages stable
        order.append(Order(spec.attribute(spec.pk_column), descending))
    return order


def _conditions(spec: ResourceSpec, registry: ResourceRegistry, raw: Any) -> list[Condition]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise InvalidParameter(
            f'\'filters\' must be a list of {{"col", "opr", "value"}} objects, got {show_value(raw)}.'
        )
    if len(raw) > MAX_FILTERS:
        raise InvalidParameter(f"At most {MAX_FILTERS} filters are allowed in one query, got {len(raw)}.")
    return [_condition(spec, registry, item, f"filters[{i}]") for i, item in enumerate(raw)]


def _condition(spec: ResourceSpec, registry: ResourceRegistry, item: Any, where: str) -> Condition:
    if not isinstance(item, dict):
        raise InvalidParameter(
            f"{where} must be an object with 'col', 'opr' and 'value', got {show_value(item)}."
        )
    extra = [k for k in item if k not in FILTER_KEYS]
    missing = [k for k in FILTER_KEYS if k not in item]
    if extra or missing:
        problem = f"has unknown key '{extra[0]}'" if extra else f"lacks '{missing[0]}'"
        raise InvalidParameter(f"{where} {problem}; a filter is an object with 'col', 'opr' and 'value'.")
    column = _column(spec, item["col"], where)
    op = _operator(spec, column, item["opr"], where)
    value = _value(
        spec, registry, column, op, item["value"], what=f"The value of {where} ('{column.name}' {op})"
    )
    if isinstance(column.relation, ManyToMany):
        return Condition(spec.attribute(spec.pk_column), op, value, link=column.relation.link)
    return Condition(spec.attribute(column), op, value, nullable=spec.nullable(column))


def _column(spec: ResourceSpec, name: Any, where: str) -> Column:
    column = spec.column(name) if isinstance(name, str) else None
    searchable = ", ".join(spec.searchable)
    if column is None:
        raise InvalidParameter(
            f"Unknown column {show_value(name)} in {where} for resource '{spec.name}'; "
            f"searchable columns: {searchable}."
        )
    if not column.operators:
        raise InvalidParameter(
            f"Column '{column.name}' of resource '{spec.name}' cannot be filtered ({where}); "
            f"searchable columns: {searchable}."
        )
    return column


def _operator(spec: ResourceSpec, column: Column, raw: Any, where: str) -> Op:
    try:
        op = Op(raw)
    except ValueError:
        raise InvalidParameter(
            f"Unknown operator {show_value(raw)} in {where}; operators are: {', '.join(o.value for o in Op)}."
        ) from None
    allowed = ", ".join(o.value for o in column.operators)
    if op is Op.EQF:
        raise InvalidParameter(
            f"Operator 'eqf' (equal to a server-side function) in {where} is not supported: modelyard "
            f"declares no filter functions. Column '{column.name}' allows: {allowed}."
        )
    if op not in column.operators:
        raise InvalidParameter(
            f"Operator '{op}' is not allowed for column '{column.name}' of resource '{spec.name}' ({where}); "
            f"allowed: {allowed}."
        )
    return op


def _value(
    spec: ResourceSpec, registry: ResourceRegistry, column: Column, op: Op, value: Any, *, what: str
) -> Any:
    if op is Op.INF:
        if not isinstance(value, list) or not value:
            raise InvalidParameter(f"{what} must be a non-empty list of values, got {show_value(value)}.")
        if len(value) > MAX_LIST_VALUES:
            raise InvalidParameter(f"{what} may list at most {MAX_LIST_VALUES} values, got {len(value)}.")
        return [_scalar(spec, registry, column, v, f"{what}[{i}]") for i, v in enumerate(value)]
    if op in LIKE_OPS:
        return as_str(value, what)
    if value is None:
        if op in _NULLABLE_OPS:
            return None
        raise InvalidParameter(f"{what} cannot be null for operator '{op}'.")
    return _scalar(spec, registry, column, value, what)


def _scalar(spec: ResourceSpec, registry: ResourceRegistry, column: Column, value: Any, what: str) -> Any:
    kind, bits = column.type, 64
    if isinstance(column.relation, ManyToMany):
        target = registry.get(column.relation.target)
        kind, bits = key_type(target), target.int_bits(target.pk_column)
    elif kind in (ColumnType.INTEGER, ColumnType.TIMESTAMP):
        bits = spec.int_bits(column)
    if kind in (ColumnType.INTEGER, ColumnType.TIMESTAMP):
        return as_int(value, what, bits)
    if kind is ColumnType.BOOLEAN:
        return as_bool(value, what)
    text = as_str(value, what)
    if kind is ColumnType.ENUM and text not in column.values:
        raise InvalidParameter(f"{what} is '{text}'; it must be one of: {', '.join(column.values)}.")
    return text
