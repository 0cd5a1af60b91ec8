"""The declaration of a resource: what the generic resource API needs to list, show, edit and act on it.

A ``ResourceSpec`` names an ORM row class, its columns (how each is listed, shown, filtered and
ordered; a column may be an SQL expression over related rows), the add/edit form fields, the actions,
extra read-only endpoints, the access policy (who sees and changes which rows), and hooks that create,
update and delete through the services, so business rules stay in the services. Every hook receives
the acting principal. Declarations are checked when they are built: a wrong declaration fails at
import time, not on a user's request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Integer, SmallInteger
from sqlalchemy.orm import QueryableAttribute

from modelyard.domain.identity import Principal
from modelyard.services.resources.access import Access, PlatformAdminOnly
from modelyard.services.resources.forms import Field
from modelyard.storage.resource_query import LIKE_OPS, Link, Op, SQLColumn

if TYPE_CHECKING:
    from modelyard.services.container import Services

CreateHook = Callable[["Services", Principal, dict[str, Any]], Any]
"""Creates the item from cleaned form values; returns its primary key, or ``Created``."""
UpdateHook = Callable[["Services", Principal, Any, dict[str, Any]], None]
DeleteHook = Callable[["Services", Principal, Any], None]
ActionHandler = Callable[["Services", Principal, Any], None]
EndpointHandler = Callable[["Services", Principal], Any]
DetailHook = Callable[["Services", Principal, dict[str, Any]], dict[str, Any]]
"""Extra fields for the show of one item (computed by a service, e.g. lineage), merged into it."""
ComputedHook = Callable[[dict[str, Any]], dict[str, Any]]
"""Extra fields computed from an item's own values alone (no I/O), merged into every listed and shown item."""
RESERVED_PATHS = frozenset({"_info", "action", "multi_action"})


@dataclass(frozen=True, slots=True)
class Created:
    """What a create hook may return instead of a bare key: the key, and values shown once in the answer
    to the create request only (a new token's secret), never stored where a later read finds them."""

    key: Any
    once: dict[str, Any] = field(default_factory=dict)


class ColumnType(StrEnum):
    STRING = "string"  # short text
    TEXT = "text"  # long text
    INTEGER = "integer"
    TIMESTAMP = "timestamp"  # integer milliseconds since the epoch
    BOOLEAN = "boolean"
    ENUM = "enum"  # one of the column's ``values``
    JSON = "json"  # a JSON document: shown, never filtered or ordered
    RELATION = "relation"  # no value of its own: the rows linked through a many-to-many association


OP_LABELS: dict[Op, str] = {
    Op.SW: "Starts with",
    Op.NSW: "Does not start with",
    Op.EW: "Ends with",
    Op.NEW: "Does not end with",
    Op.CT: "Contains",
    Op.NCT: "Does not contain",
    Op.EQ: "Equal to",
    Op.NEQ: "Not equal to",
    Op.GT: "Greater than",
    Op.LT: "Less than",
    Op.REL_O_M: "Relation",
    Op.NREL_O_M: "No relation",
    Op.REL_M_M: "Relation as many",
    Op.EQF: "Equal to function",
    Op.INF: "One of",
}

_DEFAULT_OPS: dict[ColumnType, tuple[Op, ...]] = {
    ColumnType.STRING: (Op.SW, Op.NSW, Op.EW, Op.NEW, Op.CT, Op.NCT, Op.EQ, Op.NEQ, Op.INF),
    ColumnType.TEXT: (Op.CT, Op.NCT, Op.EQ, Op.NEQ),
    ColumnType.INTEGER: (Op.EQ, Op.NEQ, Op.GT, Op.LT, Op.INF),
    ColumnType.TIMESTAMP: (Op.EQ, Op.NEQ, Op.GT, Op.LT),
    ColumnType.BOOLEAN: (Op.EQ, Op.NEQ),
    ColumnType.ENUM: (Op.EQ, Op.NEQ, Op.INF),
    ColumnType.JSON: (),
    ColumnType.RELATION: (Op.REL_M_M,),
}
_ONE_TO_MANY_OPS = (Op.REL_O_M, Op.NREL_O_M, Op.EQ, Op.NEQ, Op.INF)
_TYPE_OPS: dict[ColumnType, frozenset[Op]] = {
    ColumnType.STRING: LIKE_OPS | {Op.EQ, Op.NEQ, Op.INF, Op.GT, Op.LT},
    ColumnType.TEXT: LIKE_OPS | {Op.EQ, Op.NEQ},
    ColumnType.INTEGER: frozenset({Op.EQ, Op.NEQ, Op.GT, Op.LT, Op.INF}),
    ColumnType.TIMESTAMP: frozenset({Op.EQ, Op.NEQ, Op.GT, Op.LT, Op.INF}),
    ColumnType.BOOLEAN: frozenset({Op.EQ, Op.NEQ}),
    ColumnType.ENUM: frozenset({Op.EQ, Op.NEQ, Op.INF}),
    ColumnType.JSON: frozenset(),
    ColumnType.RELATION: frozenset({Op.REL_M_M}),
}


@dataclass(frozen=True, slots=True)
class OneToMany:
    """The column holds the primary key of a row of resource ``target`` (the "one" side)."""

    target: str


@dataclass(frozen=True, slots=True)
class ManyToMany:
    """The column lists the rows of resource ``target`` linked to this row through ``link``."""

    target: str
    link: Link


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the resource. ``ops`` defaults by type (see ``operators``). ``source``, when set, is
    the SQL expression that computes the column (``storage.resource_query.lookup``); else the row class
    has a column of this name."""

    name: str
    label: str
    type: ColumnType = ColumnType.STRING
    description: str = ""
    listed: bool = True
    shown: bool = True
    searchable: bool = True
    orderable: bool = True
    ops: tuple[Op, ...] | None = None
    values: tuple[str, ...] = ()
    relation: OneToMany | ManyToMany | None = None
    source: SQLColumn | None = field(default=None, compare=False, repr=False)

    @property
    def operators(self) -> tuple[Op, ...]:
        if not self.searchable:
            return ()
        if self.ops is not None:
            return self.ops
        if isinstance(self.relation, OneToMany):
            return _ONE_TO_MANY_OPS
        return _DEFAULT_OPS[self.type]

    def check(self, resource: str) -> None:
        where = f"resource {resource!r} column {self.name!r}"
        if self.type is ColumnType.ENUM and not self.values:
            raise ValueError(f"{where}: an enum column needs its values")
        if (self.type is ColumnType.RELATION) != isinstance(self.relation, ManyToMany):
            raise ValueError(f"{where}: type RELATION goes with a ManyToMany relation, and only with it")
        if self.type is ColumnType.RELATION and (self.orderable or self.listed):
            raise ValueError(f"{where}: relation columns can be neither listed nor ordered")
        if self.type is ColumnType.JSON and self.orderable:
            raise ValueError(f"{where}: JSON columns cannot be ordered")
        allowed = set(_TYPE_OPS[self.type])
        if isinstance(self.relation, OneToMany):
            allowed |= {Op.REL_O_M, Op.NREL_O_M}
        bad = [op.value for op in self.operators if op not in allowed]
        if bad:
            raise ValueError(f"{where}: operators {bad} do not apply to a {self.type} column")


@dataclass(frozen=True, slots=True)
class Action:
    """An operation on one item (``single``) or on many at once (``multiple``), done by ``handler``."""

    name: str
    text: str
    handler: ActionHandler
    confirmation: str = ""
    single: bool = True
    multiple: bool = True


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A read-only view of the resource beyond the generic ones: ``GET /<resource>/api/<name>``."""

    name: str
    description: str
    handler: EndpointHandler


@dataclass(frozen=True)
class ResourceSpec:
    """Everything the generic API needs to serve one resource under ``/<name>/api/``."""

    name: str
    label: str
    row: type[Any]
    primary_key: str
    columns: tuple[Column, ...]
    order_column: str
    order_direction: str = "desc"
    description: str = ""
    title_column: str | None = None  # the column that names an item for people (choices, related lists)
    add_fields: tuple[Field, ...] = ()
    edit_fields: tuple[Field, ...] = ()
    actions: tuple[Action, ...] = ()
    create: CreateHook | None = None
    update: UpdateHook | None = None
    delete: DeleteHook | None = None
    endpoints: tuple[Endpoint, ...] = ()
    detail: DetailHook | None = None
    computed: ComputedHook | None = None
    access: Access = field(default_factory=PlatformAdminOnly)
    page_size: int = 100
    max_page_size: int = 1000
    extra_permissions: tuple[str, ...] = ()
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})
        where = f"resource {self.name!r}"
        self._check_columns(where)
        for name in (self.order_column, self.title_column):
            if name is not None and name not in self._by_name:
                raise ValueError(f"{where}: {name!r} is not a declared column")
        if self.order_direction not in ("asc", "desc"):
            raise ValueError(f"{where}: order_direction is 'asc' or 'desc'")
        if not 1 <= self.page_size <= self.max_page_size:
            raise ValueError(f"{where}: page_size must be between 1 and max_page_size")
        if (self.add_fields and self.create is None) or (self.edit_fields and self.update is None):
            raise ValueError(f"{where}: form fields without the hook that uses them")
        if (self.create is not None and not self.add_fields) or (
            self.update is not None and not self.edit_fields
        ):
            raise ValueError(f"{where}: a create or update hook needs its form fields")
        if len({a.name for a in self.actions}) != len(self.actions):
            raise ValueError(f"{where}: action names repeat")
        paths = [e.name for e in self.endpoints]
        if len(set(paths)) != len(paths) or RESERVED_PATHS & set(paths):
            raise ValueError(f"{where}: endpoint names repeat or take one of {sorted(RESERVED_PATHS)}")

    def _check_columns(self, where: str) -> None:
        if len(self._by_name) != len(self.columns):
            raise ValueError(f"{where}: column names repeat")
        if self.primary_key not in self._by_name:
            raise ValueError(f"{where}: the primary key {self.primary_key!r} must be a declared column")
        row_keys = [c.name for c in self.row.__table__.primary_key.columns]
        if row_keys != [self.primary_key]:
            raise ValueError(
                f"{where}: the row's primary key is {row_keys}; one column, the declared one, is needed"
            )
        if self.pk_column.type not in (ColumnType.INTEGER, ColumnType.STRING):
            raise ValueError(f"{where}: the primary key must be an integer or a string column")
        for column in self.columns:
            column.check(self.name)
            if column.relation is None or isinstance(column.relation, OneToMany):
                self.attribute(column)  # the row class must have it

    @property
    def pk_column(self) -> Column:
        return self._by_name[self.primary_key]

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name)

    def attribute(self, column: Column) -> SQLColumn:
        """What the column reads: its ``source`` expression, else the row's column of that name."""
        if column.source is not None:
            return column.source
        return self.key_attribute(column)

    def key_attribute(self, column: Column) -> QueryableAttribute[Any]:
        attr = getattr(self.row, column.name, None)
        if not isinstance(attr, QueryableAttribute):
            raise ValueError(f"resource {self.name!r}: {self.row.__name__} has no column {column.name!r}")
        return attr

    def nullable(self, column: Column) -> bool:
        table_column = self.row.__table__.c.get(column.name)
        return bool(table_column is not None and table_column.nullable)

    def int_bits(self, column: Column) -> int:
        """How wide the database column is (PostgreSQL refuses a wider value with an error, not a miss);
        for a computed column, how wide its expression's type is (a count binds as an INTEGER)."""
        table_column = self.row.__table__.c.get(column.name)
        if column.source is not None:
            kind = getattr(column.source, "type", None)
        else:
            kind = table_column.type if table_column is not None else None
        if isinstance(kind, SmallInteger):
            return 16
        if isinstance(kind, Integer) and not isinstance(kind, BigInteger):
            return 32
        return 64

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    @property
    def primary_attribute(self) -> QueryableAttribute[Any]:
        return self.key_attribute(self.pk_column)

    def permissions(self, actor: Principal) -> list[str]:
        """What ``actor`` may do with the resource (on some of its rows), by cube-studio's names."""
        if not self.access.allowed(actor, "read"):
            return []
        hooks = (("add", self.create), ("edit", self.update), ("delete", self.delete))
        granted = ["can_list", "can_show"]
        granted += [f"can_{op}" for op, hook in hooks if hook is not None and self.access.allowed(actor, op)]
        granted += [
            f"can_action_{a.name}" for a in self.actions if self.access.allowed(actor, f"action:{a.name}")
        ]
        return granted + list(self.extra_permissions)

    @property
    def searchable(self) -> list[str]:
        return [c.name for c in self.columns if c.operators]

    @property
    def orderable(self) -> list[str]:
        return [c.name for c in self.columns if c.orderable]


class ResourceRegistry:
    """The declared resources by name; relation targets are checked to exist."""

    def __init__(self, specs: tuple[ResourceSpec, ...]) -> None:
        self._specs: dict[str, ResourceSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"resource {spec.name!r} is declared twice")
            self._specs[spec.name] = spec
        for spec in specs:
            targets = [c.relation.target for c in spec.columns if c.relation is not None]
            targets += [f.relation for f in (*spec.add_fields, *spec.edit_fields) if f.relation is not None]
            for target in targets:
                if target not in self._specs:
                    raise ValueError(f"resource {spec.name!r} relates to undeclared resource {target!r}")

    def __iter__(self) -> Iterator[ResourceSpec]:
        return iter(self._specs.values())

    def get(self, name: str) -> ResourceSpec:
        return self._specs[name]
