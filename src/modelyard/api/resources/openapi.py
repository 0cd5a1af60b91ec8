"""The OpenAPI description of one declared resource, from the same declaration its routes serve.

A resource's item is its columns (typed by column type, ``null`` where the database column allows it;
a many-to-many column shows the linked items and their count); its add and edit bodies are its form
fields (the checks ``services.resources.forms.clean`` makes: types, lengths, ranges, patterns, no
unknown field); its list query is ``form_data`` (a JSON document) or the same keys as plain parameters,
with the columns it may filter and order by. Every answer is the envelope
``{"status": 0, "message": "success", "result": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.api.openapi import Doc, Parameters, Schema, model_ref
from modelyard.schemas.resources import ResourceInfo
from modelyard.services.resources import ResourceRegistry, ResourceSpec
from modelyard.services.resources.forms import Field, FieldType, Length, Range, Regexp, Validator
from modelyard.services.resources.query import MAX_FILTERS, MAX_LIST_VALUES, MAX_PAGE
from modelyard.services.resources.spec import Column, ColumnType, ManyToMany
from modelyard.storage.resource_query import LIKE_OPS, Op

_COLUMN_TYPES: dict[ColumnType, dict[str, Any]] = {
    ColumnType.STRING: {"type": "string"},
    ColumnType.TEXT: {"type": "string"},
    ColumnType.INTEGER: {"type": "integer"},
    ColumnType.TIMESTAMP: {"type": "integer", "description": "Milliseconds since the epoch."},
    ColumnType.BOOLEAN: {"type": "boolean"},
    ColumnType.JSON: {},
}
_FIELD_TYPES = {
    FieldType.STRING: "string",
    FieldType.TEXT: "string",
    FieldType.INTEGER: "integer",
    FieldType.BOOLEAN: "boolean",
    FieldType.ENUM: "string",
}


def envelope(name: str, result: dict[str, Any], uses: tuple[Any, ...] = ()) -> Schema:
    """The success envelope around ``result``, as a named schema."""
    return Schema(
        name,
        {
            "type": "object",
            "required": ["status", "message", "result"],
            "properties": {"status": {"const": 0}, "message": {"type": "string"}, "result": result},
        },
        uses,
    )


def key_schema(spec: ResourceSpec) -> dict[str, Any]:
    """A primary key as a path parameter or a list element: an integer of the column's width, or text."""
    if spec.pk_column.type is ColumnType.INTEGER:
        bits = spec.int_bits(spec.pk_column)
        return {"type": "integer", "minimum": -(2 ** (bits - 1)), "maximum": 2 ** (bits - 1) - 1}
    return {"type": "string", "minLength": 1}


def json_schema_pattern(pattern: str) -> str:
    """A ``Regexp`` validator's pattern (Python, matched whole) as JSON Schema writes it (ECMA-262, found
    anywhere): anchored, and ``(?s)`` spelled out (ECMA-262 has no inline flags)."""
    if pattern.startswith("(?s)"):
        pattern = pattern[4:].replace(".", "[\\s\\S]")
    if "(?" in pattern.replace("(?:", ""):
        raise ValueError(f"pattern {pattern!r} uses an inline flag JSON Schema cannot express")
    return f"^(?:{pattern})$"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" not in schema:  # any JSON value, null included
        return schema
    if "enum" in schema:
        return {**schema, "type": [schema["type"], "null"], "enum": [*schema["enum"], None]}
    return {**schema, "type": [schema["type"], "null"]}


def _column_schema(spec: ResourceSpec, column: Column) -> dict[str, Any]:
    if column.type is ColumnType.ENUM:
        schema: dict[str, Any] = {"type": "string", "enum": list(column.values)}
    else:
        schema = dict(_COLUMN_TYPES[column.type])
    if column.description:
        schema["description"] = column.description
    # a computed column (an outer join, a count) may be null whatever the table says
    if column.source is not None or spec.nullable(column):
        schema = _nullable(schema)
    return schema


def _item(spec: ResourceSpec, columns: list[Column]) -> dict[str, Any]:
    properties = {spec.primary_key: _column_schema(spec, spec.pk_column)}
    properties.update({c.name: _column_schema(spec, c) for c in columns})
    return {"type": "object", "required": list(properties), "properties": properties}


def _field_schema(registry: ResourceRegistry, field: Field, *, nullable: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _FIELD_TYPES[field.type]}
    if field.description:
        schema["description"] = field.description
    if field.type is FieldType.ENUM:
        schema["enum"] = list(field.values)
    if field.type is FieldType.INTEGER:
        bits = 64
        if field.relation is not None:
            target = registry.get(field.relation)
            bits = target.int_bits(target.pk_column)
        schema["minimum"], schema["maximum"] = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    for validator in field.validators:
        _constrain(schema, field, validator)
    if field.default is not None:
        schema["default"] = field.default
    return _nullable(schema) if nullable else schema


def _constrain(schema: dict[str, Any], field: Field, validator: Validator) -> None:
    """Add what ``validator`` checks to ``schema``."""
    if isinstance(validator, Length):
        schema["minLength"] = validator.min
        if validator.max is not None:
            schema["maxLength"] = validator.max
    elif isinstance(validator, Range):
        if validator.min is not None:
            schema["minimum"] = max(schema.get("minimum", validator.min), validator.min)
        if validator.max is not None:
            schema["maximum"] = min(schema.get("maximum", validator.max), validator.max)
    elif isinstance(validator, Regexp):
        schema["pattern"] = json_schema_pattern(validator.pattern)
    else:  # a new kind of check must say how the document describes it
        raise ValueError(f"field {field.name!r}: no JSON Schema for validator {validator!r}")


def _form(registry: ResourceRegistry, fields: tuple[Field, ...], *, partial: bool) -> dict[str, Any]:
    """What ``forms.clean`` accepts: a required field may not be null; an optional one may (not given)."""
    properties = {f.name: _field_schema(registry, f, nullable=not f.required) for f in fields}
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [f.name for f in fields if f.required]
    if partial:
        schema["minProperties"] = 1
    elif required:
        schema["required"] = required
    return schema


def _scalar(spec: ResourceSpec, registry: ResourceRegistry, column: Column) -> dict[str, Any]:
    """What a filter on ``column`` compares with: a value of the column's type (a many-to-many column:
    the linked resource's id)."""
    if isinstance(column.relation, ManyToMany):
        return key_schema(registry.get(column.relation.target))
    if column.type in (ColumnType.INTEGER, ColumnType.TIMESTAMP):
        bits = spec.int_bits(column)
        return {"type": "integer", "minimum": -(2 ** (bits - 1)), "maximum": 2 ** (bits - 1) - 1}
    if column.type is ColumnType.ENUM:
        return {"type": "string", "enum": list(column.values)}
    if column.type is ColumnType.BOOLEAN:
        return {"type": "boolean"}
    return {"type": "string"}


def _filters(spec: ResourceSpec, registry: ResourceRegistry) -> dict[str, Any]:
    """The filters ``services.resources.query`` accepts: per column, its operators and a value of its
    type (text for the LIKE operators, a list for ``inf``, ``null`` for equality)."""
    options = []
    for column in spec.columns:
        scalar = _scalar(spec, registry, column)
        by_value: dict[str, list[str]] = {}
        for op in column.operators:
            if op is Op.EQF:
                continue  # accepted by name, always refused: modelyard declares no filter functions
            if op in LIKE_OPS:
                kind = "text"
            elif op is Op.INF:
                kind = "list"
            elif op in (Op.EQ, Op.NEQ, Op.REL_O_M, Op.NREL_O_M):
                kind = "nullable"
            else:
                kind = "scalar"
            by_value.setdefault(kind, []).append(op.value)
        values = {
            "text": {"type": "string"},
            "list": {"type": "array", "items": scalar, "minItems": 1, "maxItems": MAX_LIST_VALUES},
            "nullable": {"anyOf": [scalar, {"type": "null"}]},
            "scalar": scalar,
        }
        for kind, ops in by_value.items():
            options.append(
                {
                    "type": "object",
                    "required": ["col", "opr", "value"],
                    "additionalProperties": False,
                    "properties": {
                        "col": {"const": column.name},
                        "opr": {"enum": ops},
                        "value": values[kind],
                    },
                }
            )
    return {"type": "array", "items": {"anyOf": options}, "maxItems": MAX_FILTERS}


def list_parameters(spec: ResourceSpec, registry: ResourceRegistry) -> Parameters:
    """``form_data`` (JSON) and the same keys as plain parameters: ``filters`` (JSON), ``page``, ..."""
    filters = Schema(f"{spec.name}.filters", _filters(spec, registry))
    plain: dict[str, dict[str, Any]] = {
        "page": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE, "description": "0-based."},
        "page_size": {
            "type": "integer",
            "minimum": 1,
            "maximum": spec.max_page_size,
            "default": spec.page_size,
        },
        "order_column": {"type": "string", "enum": spec.orderable, "default": spec.order_column},
        "order_direction": {"type": "string", "enum": ["asc", "desc"]},
    }
    form = Schema(
        f"{spec.name}.list_query",
        {"type": "object", "additionalProperties": False, "properties": {"filters": filters.ref, **plain}},
        (filters,),
    )
    items = (
        {
            "name": "form_data",
            "in": "query",
            "required": False,
            "description": 'The list query as JSON, e.g. {"filters": [{"col": "name", "opr": "ct", "value": "x"}]}; '
            "a plain parameter of the same name overrides its key.",
            "content": {"application/json": {"schema": form.ref}},
        },
        {
            "name": "filters",
            "in": "query",
            "required": False,
            "content": {"application/json": {"schema": filters.ref}},
        },
        *({"name": k, "in": "query", "required": False, "schema": v} for k, v in plain.items()),
    )
    return Parameters(items, (form, filters))


@dataclass(frozen=True, slots=True)
class ResourceDocs:
    """The ``Doc`` of each generic route of one resource."""

    info: Doc
    list: Doc
    show: Doc
    add: Doc
    edit: Doc
    delete: Doc
    action: Doc
    multi_action: Doc
    endpoint: Doc


def resource_docs(spec: ResourceSpec, registry: ResourceRegistry) -> ResourceDocs:
    name = spec.name
    listed = Schema(f"{name}.item", _item(spec, [c for c in spec.columns if c.listed]))
    shown_item = _item(spec, [c for c in spec.columns if c.shown and not isinstance(c.relation, ManyToMany)])
    uses: list[Schema] = []
    for column in spec.columns:
        if column.shown and isinstance(column.relation, ManyToMany):
            target = registry.get(column.relation.target)
            linked = Schema(f"{target.name}.item", _item(target, [c for c in target.columns if c.listed]))
            uses.append(linked)
            shown_item["properties"][column.name] = {"type": "array", "items": linked.ref}
            shown_item["properties"][f"{column.name}_count"] = {"type": "integer"}
            shown_item["required"] += [column.name, f"{column.name}_count"]
    shown = Schema(f"{name}.detail", shown_item, tuple(uses))
    one = envelope(f"{name}.detail_answer", shown.ref, (shown,))
    page = envelope(
        f"{name}.page_answer",
        {
            "type": "object",
            "required": ["data", "count"],
            "properties": {"data": {"type": "array", "items": listed.ref}, "count": {"type": "integer"}},
        },
        (listed,),
    )
    key = {"key": key_schema(spec)}
    action_names = [a.name for a in spec.actions]
    action_path = {"action": {"type": "string", "enum": action_names}} if action_names else {}
    ids = Schema(
        f"{name}.ids",
        {
            "type": "object",
            "required": ["ids"],
            "additionalProperties": False,
            "properties": {
                "ids": {
                    "type": "array",
                    "items": key_schema(spec),
                    "minItems": 1,
                    "maxItems": spec.max_page_size,
                }
            },
        },
    )
    acted = envelope(
        f"{name}.multi_action_answer",
        {
            "type": "object",
            "required": ["action", "ids", "count"],
            "properties": {
                "action": {"type": "string"},
                "ids": {"type": "array", "items": key_schema(spec)},
                "count": {"type": "integer"},
            },
        },
    )
    add = Schema(f"{name}.add", _form(registry, spec.add_fields, partial=False))
    edit = Schema(f"{name}.edit", _form(registry, spec.edit_fields, partial=True))
    return ResourceDocs(
        info=Doc(response=envelope("resource_info_answer", model_ref(ResourceInfo), (ResourceInfo,))),
        list=Doc(query=list_parameters(spec, registry), response=page),
        show=Doc(response=one, path=key),
        add=Doc(body=add, response=one, status=201),
        edit=Doc(body=edit, response=one, path=key),
        delete=Doc(response=one, path=key),
        action=Doc(response=one, path={**key, **action_path}),
        multi_action=Doc(body=ids, response=acted, path=action_path),
        endpoint=Doc(response=envelope("any_answer", {})),
    )
