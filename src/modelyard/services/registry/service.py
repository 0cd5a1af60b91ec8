"""The model registry as services use it: registered models, their tags and aliases, latest
versions per stage and search; versions come from :mod:`modelyard.services.registry.versions`.

A registered model belongs to one group — by default the creator's default group, as for
experiments — and the actor's role there decides everything: viewers read, members write.
Deleting a model deletes its versions and aliases. Every change is audited; an alias move records
the version it pointed at before and after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from modelyard.domain.errors import AlreadyExists, InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.registry import (
    REGISTERED_MODEL_ORDER_KEYS,
    REGISTERED_MODELS,
    SEARCH_REGISTERED_MODELS_DEFAULT,
    SEARCH_REGISTERED_MODELS_MAX,
    ModelVersion,
    RegisteredModel,
    Stage,
    latest_per_stage,
    matches,
    parse_order,
    parse_version,
    sort_in_place,
    validate_alias,
    validate_model_name,
    with_tiebreaks,
)
from modelyard.domain.search import Entity, OrderBy
from modelyard.services.common import check_max_results, decode_page_token, encode_page_token, now_ms
from modelyard.services.registry.access import (
    audit,
    checked_tag,
    model_for,
    text_param,
    version_not_found,
)
from modelyard.services.registry.versions import ModelVersionOps, narrowing
from modelyard.services.tracking.experiments import ExperimentService
from modelyard.storage import registry_repo as repo
from modelyard.storage.orm import RegisteredModelAliasRow, RegisteredModelRow

VERSIONS_PAGE = 100  # versions on one page of a model's versions
_NAME_ORDER = (OrderBy(Entity.ATTRIBUTE, "name", True),)


def _exists(name: str) -> AlreadyExists:
    return AlreadyExists(f"Registered Model (name={name}) already exists.")


class RegistryService(ModelVersionOps):
    # ---- registered models ----------------------------------------------------------------------
    def create_registered_model(
        self,
        actor: Principal,
        *,
        name: str,
        description: str | None = None,
        tags: dict[str, Any] | None = None,
        group: int | str | None = None,
    ) -> RegisteredModel:
        name = validate_model_name(name)
        text = text_param(description, "description")
        checked = dict(checked_tag(k, v) for k, v in (tags or {}).items())
        try:
            with self.db.write() as s:
                if repo.model_row(s, name) is not None:
                    raise _exists(name)
                group_id = ExperimentService.group_for(s, actor, group)
                actor.require(group_id, Role.MEMBER, what=f"Group {group}")
                now = now_ms()
                row = RegisteredModelRow(
                    name=name,
                    group_id=group_id,
                    description=text,
                    user_id=actor.username,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    last_version=0,
                )
                s.add(row)
                s.flush()
                for key, value in checked.items():
                    repo.set_model_tag(s, row.id, key, value)
                audit(
                    s,
                    actor,
                    row,
                    "create",
                    after={"name": name, "description": text, "group_id": group_id, "tags": checked},
                )
                return repo.load_models(s, [row])[0]
        except IntegrityError:
            raise _exists(name) from None  # lost a race with a concurrent create of the same name

    def get_registered_model(self, actor: Principal, name: str) -> RegisteredModel:
        with self.db.read() as s:
            return repo.load_models(s, [model_for(s, actor, name, Role.VIEWER)])[0]

    def rename_registered_model(self, actor: Principal, name: str, new_name: str) -> RegisteredModel:
        new_name = validate_model_name(new_name, "new_name")
        try:
            with self.db.write() as s:
                row = model_for(s, actor, name, Role.MEMBER)
                if new_name != name and repo.model_row(s, new_name) is not None:
                    raise _exists(new_name)
                audit(s, actor, row, "rename", before={"name": name}, after={"name": new_name})
                row.name = new_name
                row.last_updated_timestamp = now_ms()
                s.flush()
                return repo.load_models(s, [row])[0]
        except IntegrityError:
            raise _exists(new_name) from None

    def update_registered_model(
        self, actor: Principal, name: str, description: str | None
    ) -> RegisteredModel:
        text = text_param(description, "description")
        with self.db.write() as s:
            row = model_for(s, actor, name, Role.MEMBER)
            audit(
                s, actor, row, "update", before={"description": row.description}, after={"description": text}
            )
            row.description = text
            row.last_updated_timestamp = now_ms()
            return repo.load_models(s, [row])[0]

    def delete_registered_model(self, actor: Principal, name: str) -> None:
        """Delete a model with all its versions, tags and aliases."""
        with self.db.write() as s:
            row = model_for(s, actor, name, Role.MEMBER)
            audit(
                s,
                actor,
                row,
                "delete",
                before={"name": name, "group_id": row.group_id},
                details={
                    "versions": [v.version for v in repo.versions_of(s, row.id)],
                    "aliases": repo.model_aliases(s, [row.id])[row.id],
                },
            )
            repo.delete_model(s, row)

    def set_registered_model_tag(self, actor: Principal, name: str, key: Any, value: Any) -> None:
        key, text = checked_tag(key, value)
        with self.db.write() as s:
            row = model_for(s, actor, name, Role.MEMBER)
            before = repo.set_model_tag(s, row.id, key, text)
            audit(s, actor, row, "set_tag", before={f"tags.{key}": before}, after={f"tags.{key}": text})

    def delete_registered_model_tag(self, actor: Principal, name: str, key: str) -> None:
        """Deleting a tag that is not set succeeds and changes nothing (MLflow's rule)."""
        with self.db.write() as s:
            row = model_for(s, actor, name, Role.MEMBER)
            before = repo.model_tags(s, [row.id])[row.id].get(key)
            if before is None:
                return
            audit(s, actor, row, "delete_tag", before={f"tags.{key}": before}, after={})
            repo.delete_model_tag(s, row.id, key)

    def list_model_versions(
        self, actor: Principal, name: str, *, below: Any = None, max_results: int = VERSIONS_PAGE
    ) -> tuple[list[ModelVersion], int | None]:
        """A model's versions, newest first, ``max_results`` at a time: the page of versions numbered
        below ``below`` (None: the newest), and the ``below`` of the next page (None: no more)."""
        limit = check_max_results(max_results, default=VERSIONS_PAGE, maximum=SEARCH_REGISTERED_MODELS_MAX)
        before = None if below is None or below == "" else parse_version(below)
        with self.db.read() as s:
            row = model_for(s, actor, name, Role.VIEWER)
            rows = repo.versions_below(s, row.id, before, limit + 1)
            versions = repo.load_versions(s, rows[:limit], {row.id: row.name})
        return versions, versions[-1].version if len(rows) > limit else None

    def versions_from_runs(
        self, actor: Principal, run_ids: list[str], *, per_run: int = 5
    ) -> dict[str, tuple[list[tuple[str, int]], int]]:
        """Per run id: the first ``per_run`` model versions registered from it that the actor can
        read, as (model name, version), and how many such versions there are."""
        with self.db.read() as s:
            return repo.versions_by_run(s, run_ids, groups=actor.readable_groups(), per_run=per_run)

    def get_latest_versions(
        self, actor: Principal, name: str, stages: list[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each of the given stages (every stage when none are given)."""
        wanted = {Stage.parse(x) for x in stages or []}
        with self.db.read() as s:
            row = model_for(s, actor, name, Role.VIEWER)
            versions = repo.load_versions(s, repo.versions_of(s, row.id), {row.id: row.name})
        return [v for v in latest_per_stage(versions) if not wanted or v.current_stage in wanted]

    # ---- aliases --------------------------------------------------------------------------------
    def set_alias(self, actor: Principal, name: str, alias: Any, version: Any) -> None:
        """Point an alias at a version, moving it if it named another one."""
        alias = validate_alias(alias)
        number = parse_version(version)
        with self.db.write() as s:
            row = model_for(s, actor, name, Role.MEMBER)
            target = repo.version_row(s, row.id, number)
            if target is None:
                raise version_not_found(name, number)
            current = repo.alias_row(s, row.id, alias)
            previous = repo.aliased_version(s, row.id, alias)
            before = previous.version if previous is not None else None
            if current is None:
                s.add(
                    RegisteredModelAliasRow(
                        registered_model_id=row.id, alias=alias, model_version_id=target.id
                    )
                )
            else:
                current.model_version_id = target.id
            audit(
                s,
                actor,
                row,
                "set_alias",
                before={f"aliases.{alias}": before},
                after={f"aliases.{alias}": number},
            )

    def delete_alias(self, actor: Principal, name: str, alias: Any) -> None:
        """Deleting an alias that is not set succeeds and changes nothing (MLflow's rule)."""
        alias = validate_alias(alias)
        with self.db.write() as s:
            row = model_for(s, actor, name, Role.MEMBER)
            current = repo.alias_row(s, row.id, alias)
            if current is None:
                return
            previous = repo.aliased_version(s, row.id, alias)
            before = previous.version if previous is not None else None
            audit(s, actor, row, "delete_alias", before={f"aliases.{alias}": before}, after={})
            s.delete(current)

    def get_version_by_alias(self, actor: Principal, name: str, alias: Any) -> ModelVersion:
        if not isinstance(alias, str) or not alias:
            raise InvalidParameter("Missing value for required parameter 'alias'.")
        with self.db.read() as s:
            row = model_for(s, actor, name, Role.VIEWER)
            version = repo.aliased_version(s, row.id, str(alias))
            if version is None:
                raise NotFound(f"Registered model alias {alias} not found.")
            return repo.load_versions(s, [version], {row.id: row.name})[0]

    # ---- search ---------------------------------------------------------------------------------
    def search_registered_models(
        self,
        actor: Principal,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
        name_contains: str | None = None,
    ) -> tuple[list[RegisteredModel], str | None]:
        """Models matching the filter (and, for the web UI's search box, whose name contains
        ``name_contains``, ignoring case), a page at a time."""
        filters = REGISTERED_MODELS.parse_filter(filter_string)
        needle = name_contains.casefold() if name_contains else None
        orders = with_tiebreaks(
            parse_order(REGISTERED_MODELS, order_by or [], REGISTERED_MODEL_ORDER_KEYS), _NAME_ORDER
        )
        limit = check_max_results(
            max_results, default=SEARCH_REGISTERED_MODELS_DEFAULT, maximum=SEARCH_REGISTERED_MODELS_MAX
        )
        offset = decode_page_token(page_token)
        with self.db.read() as s:
            # what the filter and the order need of every candidate (light rows, tags only when a
            # clause names one); whole models are loaded for the page alone
            keys = repo.model_keys(s, groups=actor.readable_groups(), names=narrowing(filters, "name"))
            wants_tags = any(c.entity is Entity.TAG for c in filters)
            tags = repo.model_tags(s, [k.id for k in keys]) if wants_tags else {}
            kept = [
                k
                for k in keys
                if (needle is None or needle in k.name.casefold())
                and matches(
                    {
                        "name": k.name,
                        "creation_timestamp": k.creation_timestamp,
                        "last_updated_timestamp": k.last_updated_timestamp,
                    },
                    tags.get(k.id, {}),
                    filters,
                )
            ]
            sort_in_place(kept, orders, getattr)
            models = repo.load_models(s, repo.models_by_id(s, [k.id for k in kept[offset : offset + limit]]))
        token = encode_page_token(offset + limit) if len(kept) > offset + limit else None
        return models, token
