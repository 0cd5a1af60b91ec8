"""ORM rows. Times are integer milliseconds since the epoch, as in MLflow's wire format."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Tables whose integer ids are shown or audited: on SQLite, AUTOINCREMENT keeps the id of a deleted row
# from being given to the next one (PostgreSQL's sequences never go back anyway). Migration 0005.
NEVER_REUSE_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(250), default="")
    email: Mapped[str] = mapped_column(String(250), default="")
    # scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>; empty when the user logs in with tokens only
    password_hash: Mapped[str] = mapped_column(String(300), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class GroupRow(Base):
    __tablename__ = "groups"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class MembershipRow(Base):
    __tablename__ = "memberships"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("user_id", "group_id"), NEVER_REUSE_IDS)


class TokenRow(Base):
    """An API token. Only a SHA-256 of the secret is kept (tokens are 256-bit random, so no KDF is needed)."""

    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(250), default="")
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the first characters of the token, shown in listings so a user can tell tokens apart
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class UiSessionRow(Base):
    """A web UI login. Only a SHA-256 of the session id is kept (the id is 256-bit random, like a
    token): a copy of the table lets no one act as its users. Expired rows are removed when someone
    logs in."""

    __tablename__ = "ui_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    # the session ends at the first of: idle too long (moved on by use), or this absolute limit
    idle_expires_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class AuditEventRow(Base):
    """One append-only audit event; ``hash`` covers the event and the previous event's hash."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    time: Mapped[int] = mapped_column(BigInteger, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(250))
    # the resource's name when it has one besides its id (a deployment's, a user's); NULL on events
    # written before migration 0006, whose resource_id is the name for name-keyed resources
    resource_name: Mapped[str | None] = mapped_column(String(250), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    __table_args__ = (
        Index("ix_audit_events_resource", "resource_type", "resource_id"),
        Index("ix_audit_events_resource_name", "resource_type", "resource_name"),
    )


class AuditHeadRow(Base):
    """The single row that holds the chain's last hash; writers lock it so the chain never forks."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditAppendRow(Base):
    """High-volume appends (metric points, artifact uploads) counted in the transaction that makes them,
    per resource, actor, kind and key, until they are summarised into one chained audit event per
    resource, actor and kind (``services.audit.appends``). Rows here are not yet part of the chain."""

    __tablename__ = "audit_appends"
    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    actor: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    count: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    first_time: Mapped[int] = mapped_column(BigInteger, index=True)
    last_time: Mapped[int] = mapped_column(BigInteger)


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(250), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ExperimentRow(Base):
    __tablename__ = "experiments"
    __table_args__ = NEVER_REUSE_IDS
    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(500), unique=True)
    artifact_location: Mapped[str] = mapped_column(Text)
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="active")
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_update_time: Mapped[int] = mapped_column(BigInteger)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)


class ExperimentTagRow(Base):
    __tablename__ = "experiment_tags"
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunRow(Base):
    __tablename__ = "runs"
    run_uuid: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.experiment_id"))
    name: Mapped[str] = mapped_column(String(500), default="")
    user_id: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(20), default="RUNNING")
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    deleted_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="active")
    artifact_uri: Mapped[str] = mapped_column(Text)
    parent_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    code_version: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # A hash of the create request: a create the client retries after a lost response returns the same run.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)

    __table_args__ = (
        Index("ix_runs_experiment_stage_start", "experiment_id", "lifecycle_stage", "start_time"),
        # the runs table's sorts (migration 0010): each walks one of these in order and stops after a page
        *(
            Index(
                f"ix_runs_experiment_stage_{column}", "experiment_id", "lifecycle_stage", column, "run_uuid"
            )
            for column in ("name", "status", "user_id", "end_time")
        ),
    )


class ParamRow(Base):
    __tablename__ = "params"
    run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        Index("ix_params_key_run", "key", "run_uuid"),
        # the runs table's sort by a param (migration 0010); empty on PostgreSQL, whose B-tree entries
        # cannot hold a 6,000-character value
        Index("ix_params_key_value", "key", "value", "run_uuid", postgresql_where=text("false")),
    )


class TagRow(Base):
    __tablename__ = "tags"
    run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        Index("ix_tags_key_run", "key", "run_uuid"),
        Index("ix_tags_key_value", "key", "value", "run_uuid", postgresql_where=text("false")),  # as params'
    )


class MetricChunkRow(Base):
    """Metric points, stored as packed arrays: one row per key per logged batch.

    A row per point costs ~10 µs per point to insert in SQLite; a chunk of a thousand points costs
    about as much as one row. ``digest`` hashes the chunk's content, so a batch the client retries
    after a lost response is ignored instead of stored twice; readers also drop exact duplicate points
    (same step, timestamp and value), which is MLflow's rule for repeated points.
    """

    __tablename__ = "metric_chunks"
    run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    digest: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    min_step: Mapped[int] = mapped_column(BigInteger)
    max_step: Mapped[int] = mapped_column(BigInteger)
    # little-endian int64 / int64 / float64 arrays of `count` items (NaN and ±Inf kept as IEEE values)
    steps: Mapped[bytes] = mapped_column(LargeBinary)
    timestamps: Mapped[bytes] = mapped_column(LargeBinary)
    values: Mapped[bytes] = mapped_column(LargeBinary)
    model_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dataset_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dataset_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (
        Index(
            "ix_metric_chunks_model_id",
            "model_id",
            sqlite_where=text("model_id IS NOT NULL"),
            postgresql_where=text("model_id IS NOT NULL"),
        ),
    )


class LatestMetricRow(Base):
    """The latest point (max step, then timestamp, then value) per run and key: what search compares."""

    __tablename__ = "latest_metrics"
    run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int] = mapped_column(BigInteger)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value", "run_uuid"),)


class ExperimentKeyRow(Base):
    """A param, metric or tag key that a run of the experiment has used, for the UI's column chooser and
    filter autocomplete (listing them from ``params`` and ``latest_metrics`` would read every row of the
    experiment). Filled by database triggers on ``params``, ``latest_metrics`` and ``tags`` (migration
    0008), so every writer keeps it whole; a key stays after the runs that used it are deleted."""

    __tablename__ = "experiment_keys"
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # param, metric or tag
    key: Mapped[str] = mapped_column(String(250), primary_key=True)


class DatasetRow(Base):
    """A dataset version: a name and a content digest within an experiment."""

    __tablename__ = "datasets"
    dataset_uuid: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.experiment_id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    digest: Mapped[str] = mapped_column(String(64))
    source_type: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    profile: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("experiment_id", "name", "digest"),)


class RunInputRow(Base):
    __tablename__ = "run_inputs"
    run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True)
    dataset_uuid: Mapped[str] = mapped_column(
        ForeignKey("datasets.dataset_uuid"), primary_key=True, index=True
    )
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class LoggedModelRow(Base):
    __tablename__ = "logged_models"
    model_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.experiment_id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    artifact_location: Mapped[str] = mapped_column(Text)
    creation_timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    last_updated_timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(40))
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="active")
    model_type: Mapped[str | None] = mapped_column(String(500), nullable=True)
    source_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class LoggedModelTagRow(Base):
    __tablename__ = "logged_model_tags"
    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LoggedModelParamRow(Base):
    __tablename__ = "logged_model_params"
    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunModelRow(Base):
    """Logged models a run consumed (direction 'input') or produced ('output', with the step)."""

    __tablename__ = "run_models"
    run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, default=0)


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[str] = mapped_column(String(256), default="")
    creation_timestamp: Mapped[int] = mapped_column(BigInteger)
    last_updated_timestamp: Mapped[int] = mapped_column(BigInteger)
    # The highest version number given out so far. Versions are numbered from this counter, under a
    # lock on this row, so concurrent creates get distinct numbers and a deleted number is never reused.
    last_version: Mapped[int] = mapped_column(Integer, default=0)


class RegisteredModelTagRow(Base):
    __tablename__ = "registered_model_tags"
    registered_model_id: Mapped[int] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registered_model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    # the artifact URI the version's files are at (resolved from the source when it was registered)
    storage_location: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    model_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    run_link: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str] = mapped_column(Text, default="")
    current_stage: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[str] = mapped_column(String(256), default="")
    creation_timestamp: Mapped[int] = mapped_column(BigInteger)
    last_updated_timestamp: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("registered_model_id", "version"), NEVER_REUSE_IDS)


class ModelVersionTagRow(Base):
    __tablename__ = "model_version_tags"
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RegisteredModelAliasRow(Base):
    __tablename__ = "registered_model_aliases"
    registered_model_id: Mapped[int] = mapped_column(
        # named by hand: the conventional name is longer than PostgreSQL's 63-character limit
        ForeignKey("registered_models.id", ondelete="CASCADE", name="fk_registered_model_aliases_model"),
        primary_key=True,
    )
    alias: Mapped[str] = mapped_column(String(255), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), index=True
    )


class DeploymentRow(Base):
    """A deployment: its spec (desired state), the controller's status, and the spec history."""

    __tablename__ = "deployments"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner: Mapped[str] = mapped_column(String(64), default="")
    stage: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # predictor name -> {"model": uri, "version": "3", "location": artifact URI the replicas load}
    models: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    observed_generation: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str] = mapped_column(String(16), default="Deploying")
    message: Mapped[str] = mapped_column(Text, default="")
    replicas: Mapped[int] = mapped_column(Integer, default=0)
    available_replicas: Mapped[int] = mapped_column(Integer, default=0)
    replica_status: Mapped[list[Any]] = mapped_column(JSON, default=list)
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source_deployment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleting: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class DeploymentTokenRow(Base):
    """A client token for a private endpoint; only its SHA-256 is kept."""

    __tablename__ = "deployment_tokens"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(250), default="")
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class GroupQuotaRow(Base):
    """A group's deployment quotas; a missing row or a NULL limit is unlimited."""

    __tablename__ = "group_quotas"
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    cpu_m: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_mi: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gpu: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deployments: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deployments_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ControllerLeaseRow(Base):
    """Leader election among servers sharing one database: the holder renews before ``expires_at``."""

    __tablename__ = "controller_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[int] = mapped_column(BigInteger)
