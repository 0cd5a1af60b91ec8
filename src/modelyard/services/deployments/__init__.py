"""Deployments: the desired state of model deployments (specs, phases, history, promotion), what the
gateway and controller read of it at run time (routes, replica specs), and group quotas.

Exports ``DeploymentService`` and ``QuotaService``; ``runtime`` is the controller's and the gateway's
view (``Route``). Depends on ``identity`` (client tokens' secrets), ``audit`` and ``artifacts`` (the
production copy of a model's files).
"""

from modelyard.services.deployments.quotas import QuotaService
from modelyard.services.deployments.service import DeploymentService

__all__ = ["DeploymentService", "QuotaService"]
