"""The self-description of a resource (``GET /<name>/api/_info``), built from its declaration.

Its shape follows cube-studio's ``_info`` so a generic UI can draw the list, the filters, the forms and
the action buttons of any resource without knowing it: columns with labels and flags, the operators
each column accepts, add/edit form fields, actions, permissions and page sizes.
"""

from __future__ import annotations

from typing import Any

from modelyard.services.resources.forms import field_info
from modelyard.services.resources.spec import (
    OP_LABELS,
    Column,
    ManyToMany,
    OneToMany,
    ResourceSpec,
)

Choices = dict[str, list[dict[str, Any]]]


def _column(spec: ResourceSpec, column: Column) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": column.name,
        "label": column.label,
        "description": column.description,
        "type": column.type.value,
        "list": column.listed,
        "show": column.shown,
        "search": bool(column.operators),
        "order": column.orderable,
        "nullable": spec.nullable(column),
    }
    if column.values:
        out["values"] = list(column.values)
    if isinstance(column.relation, OneToMany):
        out["relation"] = {"kind": "one_to_many", "resource": column.relation.target}
    elif isinstance(column.relation, ManyToMany):
        out["relation"] = {"kind": "many_to_many", "resource": column.relation.target}
    return out


def describe(spec: ResourceSpec, choices: Choices, permissions: list[str]) -> dict[str, Any]:
    """``choices`` holds the current choices of each relation form field, by field name;
    ``permissions`` what the asking principal may do."""
    return {
        "name": spec.name,
        "label": spec.label,
        "description": spec.description,
        "route_base": f"/{spec.name}/api/",
        "primary_key": spec.primary_key,
        "title_column": spec.title_column,
        "columns": [_column(spec, c) for c in spec.columns],
        "list_columns": [c.name for c in spec.columns if c.listed],
        "show_columns": [c.name for c in spec.columns if c.shown],
        "search_columns": spec.searchable,
        "order_columns": spec.orderable,
        "label_columns": {c.name: c.label for c in spec.columns},
        "description_columns": {c.name: c.description for c in spec.columns if c.description},
        "filters": {
            c.name: [{"name": OP_LABELS[op], "operator": op.value} for op in c.operators]
            for c in spec.columns
            if c.operators
        },
        "add_columns": [field_info(f, choices.get(f.name)) for f in spec.add_fields],
        "edit_columns": [field_info(f, choices.get(f.name)) for f in spec.edit_fields],
        "actions": {
            a.name: {
                "name": a.name,
                "text": a.text,
                "confirmation": a.confirmation,
                "single": a.single,
                "multiple": a.multiple,
            }
            for a in spec.actions
        },
        "endpoints": {e.name: {"name": e.name, "description": e.description} for e in spec.endpoints},
        "permissions": permissions,
        "page_size": spec.page_size,
        "max_page_size": spec.max_page_size,
        "order_column": spec.order_column,
        "order_direction": spec.order_direction,
    }
