"""The generic use cases behind every declared resource: describe, list, show, create, update, delete, act.

Every use case acts for one principal. Reads open their own read transaction, go through
``storage.resource_query`` and see only the rows the declaration's access policy lets the principal
see: a row of another group is answered exactly like a missing one (404, same message). Writes check
the policy on the row first (a viewer gets a 403 naming the role it lacks), then go through the
declaration's hooks, which call the owning service with the principal (so each write is that
service's transaction, its business rules, its own permission check and its audit event). Results are
plain dicts keyed by column name, ready for any transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from modelyard.domain.errors import InvalidParameter, NotFound, PermissionDenied
from modelyard.domain.identity import Principal
from modelyard.services.resources import info, query
from modelyard.services.resources.access import ADD, DELETE, EDIT, action_operation, describe
from modelyard.services.resources.forms import Field, clean, show_value
from modelyard.services.resources.spec import (
    Action,
    Column,
    Created,
    ManyToMany,
    ResourceRegistry,
    ResourceSpec,
)
from modelyard.storage import resource_query as store

if TYPE_CHECKING:
    from modelyard.services.container import Services


def _columns(spec: ResourceSpec, columns: list[Column]) -> list[tuple[str, store.SQLColumn]]:
    """The primary key and ``columns`` (relation columns left out), as (name, SQL) to select."""
    selected = {spec.primary_key: spec.attribute(spec.pk_column)}
    selected.update({c.name: spec.attribute(c) for c in columns if not isinstance(c.relation, ManyToMany)})
    return list(selected.items())


def _scope(spec: ResourceSpec, actor: Principal) -> list[Any]:
    condition = spec.access.visible(actor)
    return [] if condition is None else [condition]


class ResourceService:
    """The use cases of one resource, ``registry.get(name)``, done for ``actor``."""

    def __init__(self, services: Services, registry: ResourceRegistry, name: str, actor: Principal) -> None:
        self.services = services
        self.registry = registry
        self.spec = registry.get(name)
        self.actor = actor

    # ---- reading --------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        choices: info.Choices = {}
        with self.services.db.read() as s:
            for field in (*self.spec.add_fields, *self.spec.edit_fields):
                if field.relation is not None and field.name not in choices:
                    choices[field.name] = self._choices(s, self.registry.get(field.relation))
        return info.describe(self.spec, choices, self.spec.permissions(self.actor))

    def list_items(self, request: query.ListRequest) -> dict[str, Any]:
        plan = query.plan(self.spec, self.registry, request)
        with self.services.db.read() as s:
            data, count = store.list_rows(
                s,
                self.spec.row,
                columns=_columns(self.spec, [c for c in self.spec.columns if c.listed]),
                conditions=plan.conditions,
                order=plan.order,
                offset=plan.offset,
                limit=plan.limit,
                scope=_scope(self.spec, self.actor),
            )
        if self.spec.computed is not None:
            data = [{**item, **self.spec.computed(item)} for item in data]
        return {"data": data, "count": count}

    def get(self, raw_key: Any) -> dict[str, Any]:
        key = query.coerce_key(self.spec, raw_key)
        with self.services.db.read() as s:
            item = self._show(s, key)
        if self.spec.computed is not None:
            item = {**item, **self.spec.computed(item)}
        if self.spec.detail is not None:
            item = {**item, **self.spec.detail(self.services, self.actor, item)}
        return item

    def endpoint(self, name: str) -> Any:
        found = next((e for e in self.spec.endpoints if e.name == name), None)
        if found is None:  # routes are built from the declaration: only a direct call gets here
            raise NotFound(f"Resource '{self.spec.name}' has no endpoint '{name}'.")
        return found.handler(self.services, self.actor)

    # ---- writing --------------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.spec.create is None:
            raise InvalidParameter(f"Resource '{self.spec.name}' cannot be created through this API.")
        values = clean(
            self.spec.add_fields, body, what=f"a new {self.spec.name}", partial=False, int_bits=self._int_bits
        )
        if not self.spec.access.allowed(self.actor, ADD):
            raise PermissionDenied(
                f"Permission denied: creating a {self.spec.name} needs "
                f"{self.spec.access.requirement(ADD)}; user '{self.actor.username}' does not have it."
            )
        out = self.spec.create(self.services, self.actor, values)
        if isinstance(out, Created):
            return {**self.get(out.key), **out.once}
        return self.get(out)

    def update(self, raw_key: Any, body: dict[str, Any]) -> dict[str, Any]:
        if self.spec.update is None:
            raise InvalidParameter(f"Resource '{self.spec.name}' cannot be changed through this API.")
        key = query.coerce_key(self.spec, raw_key)
        values = clean(
            self.spec.edit_fields, body, what=f"{self.spec.name} {key}", partial=True, int_bits=self._int_bits
        )
        self._require(key, EDIT)  # a 404 for an unknown or hidden id whatever the hook's service would say
        self.spec.update(self.services, self.actor, key, values)
        return self.get(key)

    def delete(self, raw_key: Any) -> dict[str, Any]:
        """Deletes through the hook; answers the item as it is now (soft delete) or was (hard delete)."""
        if self.spec.delete is None:
            raise InvalidParameter(f"Resource '{self.spec.name}' cannot be deleted through this API.")
        key = query.coerce_key(self.spec, raw_key)
        before = self._require(key, DELETE)
        self.spec.delete(self.services, self.actor, key)
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
        self._require(key, action_operation(name))
        action.handler(self.services, self.actor, key)
        return self.get(key)

    def multi_action(self, name: str, raw_ids: Any) -> dict[str, Any]:
        """All or nothing: every id is checked (it exists, is visible, may be acted on) before the
        action touches any."""
        action = self._action(name)
        if not action.multiple:
            raise InvalidParameter(
                f"Action '{name}' of resource '{self.spec.name}' applies to one item at a time: "
                f"GET /{self.spec.name}/api/action/{name}/<id>."
            )
        keys = self._keys(raw_ids)
        pk = self.spec.primary_attribute
        with self.services.db.read() as s:
            found = store.existing_keys(s, pk, keys, _scope(self.spec, self.actor))
            missing = [k for k in keys if k not in found]
            hidden = sorted(store.existing_keys(s, pk, missing), key=str)
            if not missing:
                for key in keys:
                    self._check(s, key, action_operation(name))
        if missing:
            if hidden:
                self._audit_hidden(hidden, action_operation(name))
            shown = ", ".join(str(k) for k in missing[:20])
            raise NotFound(f"No {self.spec.name} with id {shown} exists; the action was applied to none.")
        for key in keys:
            action.handler(self.services, self.actor, key)
        return {"action": name, "ids": keys, "count": len(keys)}

    # ---- checks ---------------------------------------------------------------------------------
    def _require(self, key: Any, operation: str) -> dict[str, Any]:
        """The item, after checking that the actor sees it and may do ``operation`` on it."""
        with self.services.db.read() as s:
            try:
                item = self._show(s, key)
            except NotFound as missing:
                hidden = bool(store.existing_keys(s, self.spec.primary_attribute, [key]))
                refusal = missing
            else:
                self._check(s, key, operation)
                return item
        if hidden:
            self._audit_hidden([key], operation)
        raise refusal

    def _audit_hidden(self, keys: list[Any], operation: str) -> None:
        """An attempt to change rows the actor cannot see (another group's): answered exactly like a missing
        row, but recorded (in a transaction of its own) as the refused attempt it is."""
        for key in keys:
            self.services.audit.record_refusal(
                actor=self.actor.username,
                actor_id=self.actor.user_id,
                action=operation,
                resource_type=self.spec.name,
                resource_id=str(key),
                reason=f"{describe(operation, f'{self.spec.name} {key}')}: the user may not see it (another "
                "group's or user's); answered as missing",
            )

    def _check(self, s: Session, key: Any, operation: str) -> None:
        self.spec.access.check(
            s,
            self.actor,
            primary_key=self.spec.primary_attribute,
            key=key,
            operation=operation,
            what=f"{self.spec.name} {key}",
        )

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
        shown = [c for c in self.spec.columns if c.shown]
        item = store.get_row(
            s,
            self.spec.row,
            columns=_columns(self.spec, shown),
            primary_key=self.spec.primary_attribute,
            key=key,
            scope=_scope(self.spec, self.actor),
        )
        if item is None:
            raise NotFound(f"No {self.spec.name} with {self.spec.primary_key}={key} exists.")
        for column in shown:
            if isinstance(column.relation, ManyToMany):
                target = self.registry.get(column.relation.target)
                rows, total = store.linked_rows(
                    s,
                    target.row,
                    target.primary_attribute,
                    column.relation.link,
                    key,
                    columns=_columns(target, [c for c in target.columns if c.listed]),
                    order=query.plan(target, self.registry, query.ListRequest()).order,
                    limit=target.max_page_size,
                    scope=_scope(target, self.actor),
                )
                item[column.name] = rows
                item[f"{column.name}_count"] = total
        return item

    def _choices(self, s: Session, target: ResourceSpec) -> list[dict[str, Any]]:
        title = target.column(target.title_column or target.primary_key) or target.pk_column
        request = query.ListRequest(order_column=title.name, page_size=target.max_page_size)
        plan = query.plan(target, self.registry, request)
        rows, _ = store.list_rows(
            s,
            target.row,
            columns=_columns(target, [title]),
            conditions=[],
            order=plan.order,
            offset=0,
            limit=plan.limit,
            scope=_scope(target, self.actor),
        )
        return [{"id": r[target.primary_key], "value": r[title.name]} for r in rows]
