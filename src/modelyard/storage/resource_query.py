"""Generic reads for the resource API: filtered, ordered, paged lists and counts over one ORM row class.

Values arrive already checked and converted by the service (the right Python type for the column);
this module only turns them into SQL. Rows come back as dicts of the selected columns, which may be
SQL expressions (``lookup``, ``count_of``, subqueries over the JSON aggregates ``json_object_of`` and
``json_array_of``) as well as the row's own columns. Every read also takes ``scope``: conditions that
keep rows the caller may not see out of lists, counts, shows and links alike (``in_groups`` builds the
usual one from a ``GroupPath``).

The one thing that is not obvious: LIKE-type operators escape ``%``, ``_`` and the escape character
in the user's value and match case-insensitively (``ILIKE`` on PostgreSQL, ``lower() LIKE lower()`` on
SQLite), so both databases answer the same; negated operators on a nullable column also match its
NULLs ("does not start with x" is true of a missing value).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, false, func, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

LIKE_ESCAPE = "\\"
SQLColumn = ColumnElement[Any] | QueryableAttribute[Any]
"""A row's own column (an ORM attribute) or an SQL expression computed from the row."""
Scope = Sequence[ColumnElement[bool]]


class Op(StrEnum):
    """Filter operators of the cube-studio convention."""

    SW = "sw"  # starts with
    NSW = "nsw"  # does not start with
    EW = "ew"  # ends with
    NEW = "new"  # does not end with
    CT = "ct"  # contains
    NCT = "nct"  # does not contain
    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    LT = "lt"
    REL_O_M = "rel_o_m"  # the related "one" of a one-to-many relation is this id
    NREL_O_M = "nrel_o_m"  # ... is not this id
    REL_M_M = "rel_m_m"  # linked to this id through a many-to-many association
    EQF = "eqf"  # equal to a server-side function (refused: modelyard has none)
    INF = "inf"  # in a list of values


LIKE_OPS = frozenset({Op.SW, Op.NSW, Op.EW, Op.NEW, Op.CT, Op.NCT})
NEGATED_OPS = frozenset({Op.NSW, Op.NEW, Op.NCT, Op.NEQ, Op.NREL_O_M})


@dataclass(frozen=True, slots=True)
class Link:
    """A many-to-many association: rows of ``through`` pair ``local_key`` (this resource's primary key)
    with ``remote_key`` (the related resource's primary key)."""

    through: type[Any]
    local_key: QueryableAttribute[Any]
    remote_key: QueryableAttribute[Any]


@dataclass(frozen=True, slots=True)
class Condition:
    """One checked filter: ``column`` is the ORM attribute (the primary key for a ``link`` filter)."""

    column: SQLColumn
    op: Op
    value: Any
    nullable: bool = False
    link: Link | None = None


@dataclass(frozen=True, slots=True)
class Order:
    column: SQLColumn
    descending: bool = False
    nullable: bool = False


def escape_like(value: str) -> str:
    """``value`` with LIKE's wildcards and the escape character taken literally."""
    return (
        value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def _like(column: SQLColumn, op: Op, value: str) -> ColumnElement[bool]:
    escaped = escape_like(value)
    if op in (Op.SW, Op.NSW):
        pattern = escaped + "%"
    elif op in (Op.EW, Op.NEW):
        pattern = "%" + escaped
    else:
        pattern = "%" + escaped + "%"
    return column.ilike(pattern, escape=LIKE_ESCAPE)


def _positive(cond: Condition) -> ColumnElement[bool]:
    """The condition without its negation (``nsw`` → ``sw``), NULL values handled."""
    column, op, value = cond.column, cond.op, cond.value
    if op in LIKE_OPS:
        return _like(column, op, value)
    if op in (Op.EQ, Op.NEQ, Op.REL_O_M, Op.NREL_O_M):
        return column.is_(None) if value is None else column == value
    if op is Op.GT:
        return column.__gt__(value)
    if op is Op.LT:
        return column.__lt__(value)
    if op is Op.INF:
        return column.in_(list(value)) if value else false()
    if op is Op.REL_M_M:
        if cond.link is None:
            raise ValueError(f"operator {op} needs a link")
        linked = select(cond.link.local_key).where(cond.link.remote_key == value)
        return column.in_(linked)
    raise ValueError(f"operator {op} has no SQL form")


def where(cond: Condition) -> ColumnElement[bool]:
    positive = _positive(cond)
    if cond.op not in NEGATED_OPS:
        return positive
    if cond.value is None:  # "is not NULL"
        return not_(positive)
    negated = not_(positive)
    return or_(negated, cond.column.is_(None)) if cond.nullable else negated


# ---- reaching a row's group ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hop:
    """One step towards a row's group: ``key`` (a column of this table) holds ``target`` (the key of
    the next table)."""

    key: QueryableAttribute[Any]
    target: QueryableAttribute[Any]


@dataclass(frozen=True, slots=True)
class GroupPath:
    """How a row reaches the group it belongs to: through ``hops``, to the column ``group`` that holds
    the group id (on the row's own table when there are no hops)."""

    group: QueryableAttribute[Any]
    hops: tuple[Hop, ...] = ()


def in_groups(path: GroupPath, group_ids: Collection[int]) -> ColumnElement[bool]:
    """Rows whose group is one of ``group_ids``, as nested ``IN (SELECT ...)`` conditions (no joins, so
    they combine with any list query and count)."""
    condition: ColumnElement[bool] = path.group.in_(sorted(group_ids))
    for hop in reversed(path.hops):
        condition = hop.key.in_(select(hop.target).where(condition))
    return condition


def group_of(session: Session, path: GroupPath, primary_key: QueryableAttribute[Any], key: Any) -> int | None:
    """The group id of the row ``key`` (None when the row does not exist or has no group)."""
    statement = select(path.group).select_from(primary_key.class_)
    for hop in path.hops:
        statement = statement.join(hop.target.class_, hop.target == hop.key)
    value = session.scalar(statement.where(primary_key == key))
    return None if value is None else int(value)


# ---- computed columns ---------------------------------------------------------------------------
def lookup(
    key: QueryableAttribute[Any], target: QueryableAttribute[Any], value: QueryableAttribute[Any]
) -> SQLColumn:
    """A column of a related row: ``value`` of the row whose ``target`` equals this row's ``key``
    (e.g. the username of a membership's user). It can be listed, filtered and ordered like any column."""
    return select(value).where(target == key).correlate_except(value.class_).scalar_subquery()


def count_of(foreign_key: QueryableAttribute[Any], key: QueryableAttribute[Any]) -> SQLColumn:
    """How many rows of another table point at this row (``foreign_key`` equals this row's ``key``)."""
    table = foreign_key.class_
    return (
        select(func.count())
        .select_from(table)
        .where(foreign_key == key)
        .correlate_except(table)
        .scalar_subquery()
    )


# ---- JSON aggregates (SQLite and PostgreSQL spell them differently) -------------------------------
class json_object_of(FunctionElement[Any]):  # noqa: N801 (an SQL function)
    """A JSON object of key → value over the selected rows; ``{}`` when there are none."""

    type = JSON()
    inherit_cache = True
    name = "json_object_of"


class json_array_of(FunctionElement[Any]):  # noqa: N801 (an SQL function)
    """A JSON array of the selected values, sorted; ``[]`` when there are none."""

    type = JSON()
    inherit_cache = True
    name = "json_array_of"


@compiles(json_object_of, "sqlite")
def _sqlite_object(element: json_object_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object_of, "postgresql")
def _pg_object(element: json_object_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"COALESCE(json_object_agg({compiler.process(element.clauses, **kw)}), '{{}}'::json)"


@compiles(json_array_of, "sqlite")
def _sqlite_array(element: json_array_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(json_array_of, "postgresql")
def _pg_array(element: json_array_of, compiler: SQLCompiler, **kw: Any) -> str:
    values = compiler.process(element.clauses, **kw)
    return f"COALESCE(json_agg({values} ORDER BY {values}), '[]'::json)"


# ---- reads --------------------------------------------------------------------------------------
def _filtered(statement: Select[Any], conditions: Sequence[Condition], scope: Scope = ()) -> Select[Any]:
    clauses = [where(c) for c in conditions] + list(scope)
    return statement.where(*clauses) if clauses else statement


def _order_by(order: Sequence[Order]) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    for item in order:
        if item.nullable:  # NULLs last in both directions, the same on SQLite and PostgreSQL
            clauses.append(item.column.is_(None).asc())
        clauses.append(item.column.desc() if item.descending else item.column.asc())
    return clauses


def _selecting(row_class: type[Any], columns: Iterable[tuple[str, SQLColumn]]) -> Select[Any]:
    return select(*(expression.label(name) for name, expression in columns)).select_from(row_class)


def list_rows(
    session: Session,
    row_class: type[Any],
    *,
    columns: Sequence[tuple[str, SQLColumn]],
    conditions: Sequence[Condition],
    order: Sequence[Order],
    offset: int,
    limit: int,
    scope: Scope = (),
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows (as ``{name: value}`` of ``columns``) matching every condition and the scope,
    and how many match in all."""
    count = session.scalar(_filtered(select(func.count()).select_from(row_class), conditions, scope)) or 0
    statement = _filtered(_selecting(row_class, columns), conditions, scope).order_by(*_order_by(order))
    rows = session.execute(statement.offset(offset).limit(limit))
    return [dict(r._mapping) for r in rows], int(count)


def get_row(
    session: Session,
    row_class: type[Any],
    *,
    columns: Sequence[tuple[str, SQLColumn]],
    primary_key: QueryableAttribute[Any],
    key: Any,
    scope: Scope = (),
) -> dict[str, Any] | None:
    """The row ``key`` as ``{name: value}``, or None when it does not exist or is out of scope."""
    statement = _selecting(row_class, columns).where(primary_key == key, *scope)
    found = session.execute(statement).first()
    return None if found is None else dict(found._mapping)


def existing_keys(
    session: Session, primary_key: QueryableAttribute[Any], keys: Collection[Any], scope: Scope = ()
) -> set[Any]:
    """Which of ``keys`` exist in scope (for all-or-nothing bulk actions)."""
    if not keys:
        return set()
    return set(session.scalars(select(primary_key).where(primary_key.in_(list(keys)), *scope)))


def linked_rows(
    session: Session,
    row_class: type[Any],
    primary_key: QueryableAttribute[Any],
    link: Link,
    key: Any,
    *,
    columns: Sequence[tuple[str, SQLColumn]],
    order: Sequence[Order],
    limit: int,
    scope: Scope = (),
) -> tuple[list[dict[str, Any]], int]:
    """Rows of ``row_class`` linked to ``key`` through ``link`` (seen from the other side: ``remote_key``
    is ``row_class``'s key), at most ``limit`` of them, and how many there are in all."""
    linked = primary_key.in_(select(link.remote_key).where(link.local_key == key))
    count = session.scalar(select(func.count()).select_from(row_class).where(linked, *scope)) or 0
    statement = _selecting(row_class, columns).where(linked, *scope).order_by(*_order_by(order)).limit(limit)
    return [dict(r._mapping) for r in session.execute(statement)], int(count)
