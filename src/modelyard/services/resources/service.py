"""The generic use cases behind every declared resource: describe, list, show, create, update, delete, act.

Reads open their own read transaction and go through ``storage.resource_query``; writes go through
the declaration's hooks, which call the owning service (so each write is that service's transaction
and its business rules). Results are plain dicts keyed by column name, ready for any transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.services.resources import info, query
from modelyard.services.resources.forms import Field, clean, show_value
from modelyard.services.resources.spec import Action, Column, ManyToMany, ResourceRegistry, ResourceSpec
from modelyard.storage import resource_query as store

if TYPE_CHECKING:
    from modelyard.services.container import Services


class ResourceService:
    """The use cases of one resource, ``registry.get(name)``, on the services in ``services``."""

    def __init__(self, services: Services, registry: ResourceRegistry, name: str) -> None:
        self.services = services
        self.registry = registry
        self.spec = registry.get(name)

    # ---- reading --------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        choices: info.Choices = {}
        with self.services.db.read() as s:
            for field in (*self.spec.add_fields, *self.spec.edit_fields):
                if field.relation is not None and field.name not in choices:
                    choices[field.name] = self._choices(s, self.registry.get(field.relation))
        return info.describe(self.spec, choices)

    def list_items(self, request: query.ListRequest) -> dict[str, Any]:
        plan = query.plan(self.spec, self.registry, request)
        listed = [c for c in self.spec.columns if c.listed]
        with self.services.db.read() as s:
            rows, count = store.list_rows(
                s,
                self.spec.row,
                conditions=plan.conditions,
                order=plan.order,
                offset=plan.offset,
                limit=plan.limit,
            )
            data = [_item(self.spec, row, listed) for row in rows]
        return {"data": data, "count": count}

    def get(self, raw_key: Any) -> dict[str, Any]:
        key = query.coerce_key(self.spec, raw_key)
        with self.services.db.read() as s:
            return self._show(s, key)

    # ---- writing --------------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.spec.create is None:
            raise InvalidParameter(f"Resource '{self.spec.name}' cannot be created through this API.")
        values = clean(
            self.spec.add_fields, body, what=f"a new {self.spec.name}", partial=False, int_bits=self._int_bits
        )
        key = self.spec.create(self.services, values)
        return self.get(key)

    def update(self, raw_key: Any, body: dict[str, Any]) -> dict[str, Any]:
        if self.spec.update is None:
            raise InvalidParameter(f"Resource '{self.spec.name}' cannot be changed through this API.")
        key = query.coerce_key(self.spec, raw_key)
        values = clean(
            self.spec.edit_fields, body, what=f"{self.spec.name} {key}", partial=True, int_bits=self._int_bits
        )
        self.get(key)  # a 404 for an unknown id whatever the hook's service would say
        self.spec.update(self.services, key, values)
        return self.get(key)

    def delete(self, raw_key: Any) -> dict[str, Any]:
        """Deletes through the hook; answers the item as it is now (soft delete) or was (hard delete)."""
        if self.spec.delete is None:
            raise InvalidParameter(f"Resource '{self.spec.name}' cannot be deleted through this API.")
        key = query.coerce_key(self.spec, raw_key)
        before = self.get(key)
        self.spec.delete(self.services, key)
        try:
            return self.get(key)
        except NotFound:
            return before

    # ---- actions --------------------------------------------------------------------------------
    def action(self, name: str, raw_key: Any) -> dict[str, Any]:
        action = self._action(name)
        if not action.single:
            raise InvalidParameter(
                f"Action '{name}' of resource '{self.spec.name}' applies to many items at once: "
                f'POST /{self.spec.name}/api/multi_action/{name} with {{"ids": [...]}}.'
            )
        key = query.coerce_key(self.spec, raw_key)
        self.get(key)
        action.handler(self.services, key)
        return self.get(key)

    def multi_action(self, name: str, raw_ids: Any) -> dict[str, Any]:
        """All or nothing for unknown ids: every id is checked before the action touches any."""
        action = self._action(name)
        if not action.multiple:
            raise InvalidParameter(
                f"Action '{name}' of resource '{self.spec.name}' applies to one item at a time: "
                f"GET /{self.spec.name}/api/action/{name}/<id>."
            )
        keys = self._keys(raw_ids)
        pk = self.spec.attribute(self.spec.pk_column)
        with self.services.db.read() as s:
            found = store.existing_keys(s, pk, keys)
        missing = [k for k in keys if k not in found]
        if missing:
            shown = ", ".join(str(k) for k in missing[:20])
            raise NotFound(f"No {self.spec.name} with id {shown} exists; the action was applied to none.")
        for key in keys:
            action.handler(self.services, key)
        return {"action": name, "ids": keys, "count": len(keys)}

    def _int_bits(self, field: Field) -> int:
        if field.relation is None:
            return 64
        target = self.registry.get(field.relation)
        return target.int_bits(target.pk_column)

    def _action(self, name: str) -> Action:
        action = self.spec.action(name)
        if action is None:
            names = ", ".join(a.name for a in self.spec.actions)
            known = f"its actions are: {names}" if names else "it has no actions"
            raise NotFound(f"Resource '{self.spec.name}' has no action '{name}'; {known}.")
        return action

    def _keys(self, raw_ids: Any) -> list[Any]:
        limit = self.spec.max_page_size
        if not isinstance(raw_ids, list) or not raw_ids:
            raise InvalidParameter(
                f"'ids' must be a non-empty list of {self.spec.name} ids, got {show_value(raw_ids)}."
            )
        if len(raw_ids) > limit:
            raise InvalidParameter(f"'ids' may hold at most {limit} ids, got {len(raw_ids)}.")
        return list(dict.fromkeys(query.coerce_key(self.spec, raw) for raw in raw_ids))

    # ---- rows to dicts --------------------------------------------------------------------------
    def _show(self, s: Session, key: Any) -> dict[str, Any]:
        row = store.get_row(s, self.spec.row, key)
        if row is None:
            raise NotFound(f"No {self.spec.name} with {self.spec.primary_key}={key} exists.")
        shown = [c for c in self.spec.columns if c.shown]
        item = _item(self.spec, row, [c for c in shown if not isinstance(c.relation, ManyToMany)])
        for column in shown:
            if isinstance(column.relation, ManyToMany):
                target = self.registry.get(column.relation.target)
                rows, total = store.linked_rows(
                    s,
                    target.row,
                    target.attribute(target.pk_column),
                    column.relation.link,
                    key,
                    order=query.plan(target, self.registry, query.ListRequest()).order,
                    limit=target.max_page_size,
                )
                item[column.name] = [_item(target, r, [c for c in target.columns if c.listed]) for r in rows]
                item[f"{column.name}_count"] = total
        return item

    def _choices(self, s: Session, target: ResourceSpec) -> list[dict[str, Any]]:
        title = target.column(target.title_column or target.primary_key) or target.pk_column
        request = query.ListRequest(order_column=title.name, page_size=target.max_page_size)
        plan = query.plan(target, self.registry, request)
        rows, _ = store.list_rows(s, target.row, conditions=[], order=plan.order, offset=0, limit=plan.limit)
        return [{"id": getattr(r, target.primary_key), "value": getattr(r, title.name)} for r in rows]


def _item(spec: ResourceSpec, row: Any, columns: list[Column]) -> dict[str, Any]:
    item = {spec.primary_key: getattr(row, spec.primary_key)}
    item.update({c.name: getattr(row, c.name) for c in columns})
    return item
