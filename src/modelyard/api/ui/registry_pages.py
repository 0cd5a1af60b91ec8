"""What the model and version pages show, gathered from the services with the user's rights, and how a
refused change is shown again next to its field."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from modelyard.api.ui.links import LINKS
from modelyard.api.ui.schema_tables import input_example, signature_tables
from modelyard.domain.errors import AlreadyExists, Conflict, DomainError, NotFound, PermissionDenied
from modelyard.domain.identity import Principal
from modelyard.domain.registry import Stage
from modelyard.services import Services
from modelyard.services.registry.lineage import model_version_lineage
from modelyard.services.registry.model_files import read_version_files

METRICS_SHOWN = 50  # a version page shows its run's key metrics; the run page has them all

# what a redirect after a change says (by key: no text of the user's goes through the URL)
SAVED = {
    "description": "Description saved.",
    "tag": "Tag saved.",
    "tag_deleted": "Tag removed.",
    "renamed": "Model renamed.",
    "deleted": "Model deleted.",
    "alias": "Alias set.",
    "alias_deleted": "Alias removed.",
    "stage": "Stage changed.",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A change the service refused: which form (``form``), what was typed in it, the message; and the
    ``saved`` key its success would have redirected with."""

    form: str
    typed: dict[str, str] = field(default_factory=dict)
    saved: str = ""
    message: str = ""

    def with_message(self, message: str) -> Refusal:
        return replace(self, message=message)

    @staticmethod
    def status(exc: DomainError) -> int:
        return 409 if isinstance(exc, AlreadyExists | Conflict) else 400


def refused(exc: DomainError) -> None:
    """A missing (or hidden) resource and a missing right are whole-page answers, not a field's."""
    if isinstance(exc, NotFound | PermissionDenied):
        raise exc


def _common(saved: str | None, refusal: Refusal | None) -> dict[str, Any]:
    return {"links": LINKS, "saved": saved, "refusal": refusal or Refusal("")}


def model_context(
    svc: Services,
    user: Principal,
    name: str,
    *,
    below: str = "",
    saved: str | None = None,
    refusal: Refusal | None = None,
) -> dict[str, Any]:
    model = svc.registry.get_registered_model(user, name)
    versions, next_below = svc.registry.list_model_versions(user, name, below=below or None)
    return {
        **_common(saved, refusal),
        "model": model,
        "versions": versions,
        "below": below,
        "next_below": next_below,
    }


def version_context(
    svc: Services,
    user: Principal,
    name: str,
    version: str,
    *,
    saved: str | None = None,
    refusal: Refusal | None = None,
) -> dict[str, Any]:
    mv = svc.registry.get_model_version(user, name, version)
    files = read_version_files(svc.artifact_service, mv)
    lineage = model_version_lineage(svc, user, name, mv.version)
    metrics: list[Any] = []
    if lineage.run is not None:
        run = svc.tracking.get_run(user, lineage.run.run_id)
        metrics = sorted(run.metrics, key=lambda m: m.key)
    signature = files.spec.signature if files.spec is not None else None
    return {
        **_common(saved, refusal),
        "mv": mv,  # not "version": the frame shows modelyard's version
        "files": files,
        "signature": signature_tables(signature) if signature is not None else [],
        "example": input_example(files.example),
        "lineage": lineage,
        "metrics": metrics[:METRICS_SHOWN],
        "metric_count": len(metrics),
        "deployments": svc.deployments.serving_model_version(user, name, mv.version),
        "stages": [s.value for s in Stage],
        "download_snippet": f'mlflow.artifacts.download_artifacts("models:/{mv.name}/{mv.version}")',
    }
