"""The service container: built once per app (or per test) from settings."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.services.artifacts import ArtifactService
from modelyard.services.experiments import ExperimentService
from modelyard.services.logged_models import LoggedModelService
from modelyard.services.tracking import TrackingService
from modelyard.settings import Settings
from modelyard.storage.artifacts import ArtifactStore, artifact_store_for
from modelyard.storage.db import Database
from modelyard.storage.migrate import upgrade


@dataclass
class Services:
    settings: Settings
    db: Database
    artifacts: ArtifactStore
    artifact_service: ArtifactService
    experiments: ExperimentService
    tracking: TrackingService
    logged_models: LoggedModelService

    def close(self) -> None:
        self.db.dispose()


def prepare_storage(settings: Settings) -> None:
    """Create the data dir and bring the database schema up to date."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    try:
        upgrade(db)
    finally:
        db.dispose()


def build_services(settings: Settings) -> Services:
    settings = settings.resolved()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    if settings.migrate_on_start:
        upgrade(db)
    artifacts = artifact_store_for(settings.artifact_uri)
    return Services(
        settings=settings,
        db=db,
        artifacts=artifacts,
        artifact_service=ArtifactService(artifacts),
        experiments=ExperimentService(db),
        tracking=TrackingService(db),
        logged_models=LoggedModelService(db),
    )
