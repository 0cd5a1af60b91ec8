"""The Python SDK: ``Client`` talks to a modelyard server over HTTP (httpx), typed with ``modelyard.schemas``.

It owns the client side of the tracking API: experiments, runs and their params, metrics, tags,
datasets and artifacts, plus what a run records about itself (git code version, Python environment);
the generic resource API (``Client.resources``) and administration on it (``Client.admin``: users,
groups, tokens, the audit trail).
It never imports server code; everything goes over the wire, so it works against any modelyard server
(and, for the MLflow-compatible parts, any MLflow tracking server).
"""

from modelyard.client.active_run import ActiveRun
from modelyard.client.client import Client
from modelyard.client.config import default_url
from modelyard.client.errors import ModelyardError

__all__ = ["ActiveRun", "Client", "ModelyardError", "default_url"]
