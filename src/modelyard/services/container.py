"""The service container: built once per app (or per test) from settings."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.services.artifacts import ArtifactService
from modelyard.services.audit import AuditService
from modelyard.services.deployments import DeploymentService, QuotaService
from modelyard.services.identity import IdentityService
from modelyard.services.registry import RegistryService
from modelyard.services.tracking import (
    ChartService,
    ColumnService,
    DatasetService,
    ExperimentService,
    LoggedModelService,
    RunTableService,
    TrackingService,
)
from modelyard.services.tracking.compare import CompareService
from modelyard.services.tracking.run_details import RunDetailsService
from modelyard.settings import Settings
from modelyard.storage.artifacts import ArtifactStore, artifact_store_for
from modelyard.storage.db import Database
from modelyard.storage.migrate import upgrade
from modelyard.storage.permissions import private_tree_root


@dataclass
class Services:
    settings: Settings
    db: Database
    artifacts: ArtifactStore
    artifact_service: ArtifactService
    identity: IdentityService
    audit: AuditService
    experiments: ExperimentService
    tracking: TrackingService
    logged_models: LoggedModelService
    run_table: RunTableService
    charts: ChartService
    columns: ColumnService
    datasets: DatasetService
    registry: RegistryService
    deployments: DeploymentService
    quotas: QuotaService
    comparisons: CompareService
    run_details: RunDetailsService

    def close(self) -> None:
        self.db.dispose()


def prepare_storage(settings: Settings) -> None:
    """Create the data dir (owner-only) and bring the database schema up to date."""
    private_tree_root(settings.data_dir)
    db = Database(settings.database_url)
    try:
        upgrade(db)
    finally:
        db.dispose()


def bootstrap_admin(settings: Settings) -> tuple[str, str] | None:
    """Create the first platform admin and a token on an empty installation: (username, token), else None."""
    db = Database(settings.database_url)
    try:
        identity = IdentityService(db)
        if identity.has_users():
            return None
        return identity.bootstrap_admin()
    finally:
        db.dispose()


def build_services(settings: Settings) -> Services:
    settings = settings.resolved()
    private_tree_root(settings.data_dir)
    db = Database(settings.database_url)
    if settings.migrate_on_start:
        upgrade(db)
    artifacts = artifact_store_for(settings.artifact_uri)
    artifacts.make_private()
    artifact_service = ArtifactService(artifacts)
    experiments = ExperimentService(db, member_artifact_roots=settings.member_artifact_roots)
    return Services(
        settings=settings,
        db=db,
        artifacts=artifacts,
        artifact_service=artifact_service,
        identity=IdentityService(db),
        audit=AuditService(db, interval_s=settings.audit_interval_s),
        experiments=experiments,
        tracking=TrackingService(db),
        logged_models=LoggedModelService(db),
        run_table=RunTableService(db, experiments),
        charts=ChartService(db),
        columns=ColumnService(db, experiments),
        datasets=DatasetService(db),
        registry=RegistryService(db),
        deployments=DeploymentService(db, artifact_service),
        quotas=QuotaService(db),
        comparisons=CompareService(db),
        run_details=RunDetailsService(db),
    )
