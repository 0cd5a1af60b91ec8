"""Model versions: register one from a source, read, describe, tag, move between stages, delete,
search, and say where its files are.

A version is READY as soon as it is created: its files are already in the artifact store (a logged
model's or a run's artifacts), so nothing is copied. Its *source* must be readable by whoever
registers it — a run or logged model of a group the actor is not in reads as missing — and a
source outside the artifacts of an experiment or run the actor can read (a local path, a bucket URI)
needs a platform admin, because the serving side will load whatever the version points at. Paths in a
source are normalised first, and any spelling of ``..`` (``1//../2``, ``%2e%2e``, ``%252e%252e``) is
refused: a source cannot climb out of the artifacts it names into another group's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.registry import (
    DEFAULT_MODEL_VERSION_ORDER,
    MODEL_VERSION_ORDER_KEYS,
    MODEL_VERSIONS,
    SEARCH_MODEL_VERSIONS_DEFAULT,
    SEARCH_MODEL_VERSIONS_MAX,
    ModelVersion,
    SourceKind,
    Stage,
    VersionStatus,
    join_uri,
    lies_under,
    matches,
    parse_order,
    parse_source,
    parse_version,
    sort_in_place,
    validate_model_name,
    with_tiebreaks,
)
from modelyard.domain.search import Comparison, Entity, Op, OrderBy
from modelyard.domain.values import ascii_digits
from modelyard.services.common import check_max_results, decode_page_token, encode_page_token, now_ms
from modelyard.services.registry.access import (
    audit,
    checked_tag,
    model_for,
    text_param,
    version_for,
)
from modelyard.storage import registry_repo as repo
from modelyard.storage.db import Database
from modelyard.storage.orm import ModelVersionRow, RegisteredModelRow

_VERSION_TIEBREAKS = (
    OrderBy(Entity.ATTRIBUTE, "name", True),
    OrderBy(Entity.ATTRIBUTE, "version_number", False),
)


@dataclass(frozen=True, slots=True)
class _Resolved:
    location: str
    run_id: str | None
    model_id: str | None


def narrowing(filters: list[Comparison], key: str) -> tuple[str, ...] | None:
    """Values an ``=`` or ``IN`` clause on ``key`` restricts a search to, so storage can narrow it."""
    for c in filters:
        if c.entity is Entity.ATTRIBUTE and c.key == key:
            if c.op is Op.EQ and isinstance(c.value, str):
                return (c.value,)
            if c.op is Op.IN and isinstance(c.value, tuple):
                return c.value
    return None


def _version_value(item: tuple[ModelVersionRow, str], key: str) -> Any:
    row, name = item
    values = {
        "name": name,
        "version_number": row.version,
        "creation_timestamp": row.creation_timestamp,
        "last_updated_timestamp": row.last_updated_timestamp,
    }
    return values[key]


class ModelVersionOps:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- sources --------------------------------------------------------------------------------
    def _resolve(
        self, s: Session, actor: Principal, raw: str, run_id: str | None, model_id: str | None
    ) -> _Resolved:
        """Where a source's files are, after checking the actor may read it."""
        source = parse_source(raw)
        if source.kind is SourceKind.LOGGED_MODEL:
            scope = self._logged_model(s, actor, source.ref)
            return _Resolved(scope.location, run_id or scope.run_id, model_id or source.ref)
        if source.kind is SourceKind.RUN:
            scope = self._run(s, actor, source.ref)
            return _Resolved(join_uri(scope.location, source.path), run_id or source.ref, model_id)
        if source.kind is SourceKind.REGISTERED:
            _, src = version_for(s, actor, source.ref, source.version, Role.VIEWER)
            return _Resolved(src.storage_location, run_id or src.run_id, model_id or src.model_id)
        if source.kind is SourceKind.PROXIED and ascii_digits(source.ref, 10):
            # the proxied store's '<experiment id>/...' is that experiment's, as for the artifact proxy
            group_id = repo.experiment_group(s, int(source.ref))
            missing = f"No Experiment with id={source.ref} exists (source '{raw}')."
            if group_id is None:
                raise NotFound(missing)
            actor.require(group_id, Role.VIEWER, what=f"Experiment {source.ref}", missing=missing)
            return _Resolved(f"mlflow-artifacts:/{source.path}", run_id, model_id)
        if run_id and lies_under(raw, self._run(s, actor, run_id).location):
            return _Resolved(raw, run_id, model_id)  # inside the artifacts of the run it names
        actor.require_platform_admin(
            what=f"Registering a model version from '{raw}', outside the artifacts of an experiment or "
            "run you can read,"
        )
        return _Resolved(raw, run_id, model_id)

    @staticmethod
    def _logged_model(s: Session, actor: Principal, model_id: str) -> repo.SourceScope:
        scope = repo.logged_model_scope(s, model_id)
        missing = f"Logged model with ID '{model_id}' not found."
        if scope is None:
            raise NotFound(missing)
        actor.require(scope.group_id, Role.VIEWER, what=f"Logged model '{model_id}'", missing=missing)
        return scope

    @staticmethod
    def _run(s: Session, actor: Principal, run_id: str) -> repo.SourceScope:
        scope = repo.run_scope(s, run_id)
        missing = f"Run with id={run_id} not found"
        if scope is None:
            raise NotFound(missing)
        actor.require(scope.group_id, Role.VIEWER, what=f"Run {run_id}", missing=missing)
        return scope

    # ---- versions -------------------------------------------------------------------------------
    def create_model_version(
        self,
        actor: Principal,
        *,
        name: str,
        source: str,
        run_id: str | None = None,
        model_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        name = validate_model_name(name)
        parse_source(source)  # a malformed source fails before anything is looked up
        checked = dict(checked_tag(k, v) for k, v in (tags or {}).items())
        description, run_link = text_param(description, "description"), text_param(run_link, "run_link")
        with self.db.write() as s:
            model = model_for(s, actor, name, Role.MEMBER)
            if run_id:
                self._run(s, actor, run_id)
            if model_id:
                self._logged_model(s, actor, model_id)
            resolved = self._resolve(s, actor, source, run_id or None, model_id or None)
            number = repo.next_version(s, model.id)
            now = now_ms()
            row = ModelVersionRow(
                registered_model_id=model.id,
                version=number,
                source=source,
                storage_location=resolved.location,
                run_id=resolved.run_id,
                model_id=resolved.model_id,
                run_link=run_link,
                status=VersionStatus.READY,
                status_message="",
                current_stage=Stage.NONE,
                description=description,
                user_id=actor.username,
                creation_timestamp=now,
                last_updated_timestamp=now,
            )
            s.add(row)
            s.flush()
            for key, value in checked.items():
                repo.set_version_tag(s, row.id, key, value)
            model.last_updated_timestamp = now
            audit(
                s,
                actor,
                model,
                "create",
                version=row,
                after={
                    "source": source,
                    "storage_location": row.storage_location,
                    "run_id": row.run_id,
                    "model_id": row.model_id,
                    "description": description,
                    "tags": checked,
                },
            )
            return repo.load_versions(s, [row], {model.id: model.name})[0]

    def get_model_version(self, actor: Principal, name: str, version: Any) -> ModelVersion:
        number = parse_version(version)
        with self.db.read() as s:
            model, row = version_for(s, actor, name, number, Role.VIEWER)
            return repo.load_versions(s, [row], {model.id: model.name})[0]

    def get_download_uri(self, actor: Principal, name: str, version: Any) -> str:
        """The artifact URI of the version's files (``mlflow-artifacts:/...`` for proxied stores)."""
        return self.get_model_version(actor, name, version).storage_location

    def update_model_version(
        self, actor: Principal, name: str, version: Any, description: str | None
    ) -> ModelVersion:
        number = parse_version(version)
        text = text_param(description, "description")
        with self.db.write() as s:
            model, row = version_for(s, actor, name, number, Role.MEMBER)
            audit(
                s,
                actor,
                model,
                "update",
                version=row,
                before={"description": row.description},
                after={"description": text},
            )
            row.description = text
            row.last_updated_timestamp = now_ms()
            return repo.load_versions(s, [row], {model.id: model.name})[0]

    def delete_model_version(self, actor: Principal, name: str, version: Any) -> None:
        number = parse_version(version)
        with self.db.write() as s:
            model, row = version_for(s, actor, name, number, Role.MEMBER)
            aliases = repo.version_aliases(s, [row.id])[row.id]
            audit(
                s,
                actor,
                model,
                "delete",
                version=row,
                before={"source": row.source, "current_stage": row.current_stage, "aliases": aliases},
            )
            repo.delete_version(s, row)
            model.last_updated_timestamp = now_ms()

    def transition_stage(
        self,
        actor: Principal,
        name: str,
        version: Any,
        stage: Any,
        *,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        number = parse_version(version)
        target = Stage.parse(stage)
        if archive_existing_versions and not target.active:
            raise InvalidParameter(
                f"Model version transition cannot archive existing model versions because '{target}' is "
                f"not an Active stage. Valid stages are {Stage.STAGING}, {Stage.PRODUCTION}."
            )
        with self.db.write() as s:
            model, row = version_for(s, actor, name, number, Role.MEMBER)
            now = now_ms()
            if archive_existing_versions:
                self._archive_others(s, actor, model, row, target, now)
            audit(
                s,
                actor,
                model,
                "transition_stage",
                version=row,
                before={"current_stage": row.current_stage},
                after={"current_stage": str(target)},
                details={"archive_existing_versions": archive_existing_versions},
            )
            row.current_stage = target
            row.last_updated_timestamp = now
            model.last_updated_timestamp = now
            return repo.load_versions(s, [row], {model.id: model.name})[0]

    @staticmethod
    def _archive_others(
        s: Session,
        actor: Principal,
        model: RegisteredModelRow,
        keep: ModelVersionRow,
        stage: Stage,
        now: int,
    ) -> None:
        for other in repo.versions_of(s, model.id):
            if other.id != keep.id and other.current_stage == stage:
                audit(
                    s,
                    actor,
                    model,
                    "transition_stage",
                    version=other,
                    before={"current_stage": other.current_stage},
                    after={"current_stage": str(Stage.ARCHIVED)},
                    details={"archived_by_transition_of": keep.version},
                )
                other.current_stage = Stage.ARCHIVED
                other.last_updated_timestamp = now

    def set_model_version_tag(self, actor: Principal, name: str, version: Any, key: Any, value: Any) -> None:
        number = parse_version(version)
        key, text = checked_tag(key, value)
        with self.db.write() as s:
            model, row = version_for(s, actor, name, number, Role.MEMBER)
            before = repo.set_version_tag(s, row.id, key, text)
            audit(
                s,
                actor,
                model,
                "set_tag",
                version=row,
                before={f"tags.{key}": before},
                after={f"tags.{key}": text},
            )

    def delete_model_version_tag(self, actor: Principal, name: str, version: Any, key: str) -> None:
        """Deleting a tag that is not set succeeds and changes nothing (MLflow's rule)."""
        number = parse_version(version)
        with self.db.write() as s:
            model, row = version_for(s, actor, name, number, Role.MEMBER)
            tag = repo.version_tags(s, [row.id])[row.id].get(key)
            if tag is None:
                return
            audit(s, actor, model, "delete_tag", version=row, before={f"tags.{key}": tag}, after={})
            repo.delete_version_tag(s, row.id, key)

    # ---- search ---------------------------------------------------------------------------------
    def search_model_versions(
        self,
        actor: Principal,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[ModelVersion], str | None]:
        filters = MODEL_VERSIONS.parse_filter(filter_string)
        orders = parse_order(
            MODEL_VERSIONS, order_by or DEFAULT_MODEL_VERSION_ORDER, MODEL_VERSION_ORDER_KEYS
        )
        orders = with_tiebreaks(orders, _VERSION_TIEBREAKS)
        limit = check_max_results(
            max_results, default=SEARCH_MODEL_VERSIONS_DEFAULT, maximum=SEARCH_MODEL_VERSIONS_MAX
        )
        offset = decode_page_token(page_token)
        with self.db.read() as s:
            candidates = repo.version_rows(
                s,
                groups=actor.readable_groups(),
                names=narrowing(filters, "name"),
                run_ids=narrowing(filters, "run_id"),
            )
            tags = repo.version_tags(s, [row.id for row, _ in candidates])
            kept = [
                (row, name)
                for row, name in candidates
                if matches(
                    {
                        "name": name,
                        "run_id": row.run_id,
                        "source_path": row.source,
                        "version_number": row.version,
                        "creation_timestamp": row.creation_timestamp,
                        "last_updated_timestamp": row.last_updated_timestamp,
                    },
                    tags[row.id],
                    filters,
                )
            ]
            sort_in_place(kept, orders, _version_value)
            page = kept[offset : offset + limit]
            names = {row.registered_model_id: name for row, name in page}
            versions = repo.load_versions(s, [row for row, _ in page], names, tags)
        token = encode_page_token(offset + limit) if len(kept) > offset + limit else None
        return versions, token
