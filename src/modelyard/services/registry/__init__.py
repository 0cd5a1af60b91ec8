"""The model registry: registered models, versions, aliases and tags, convert-run-to-model, and lineage
from a version back to its run, experiment and datasets.

Exports ``RegistryService``. Depends on ``tracking`` (a version's source is a run's or a logged model's
artifacts, and lineage reads runs) and on ``audit``.
"""

from modelyard.services.registry.service import RegistryService

__all__ = ["RegistryService"]
