"""modelyard: a self-hosted machine-learning lifecycle platform.

Experiment tracking that the official ``mlflow`` client can talk to, a native resource API in the
cube-studio convention, and (later) a registry, deployments and pipelines. The package tree is the
architecture: ``domain`` (pure rules) <- ``storage`` (SQL + artifact stores) <- ``services``
(transactions) <- ``api`` (HTTP) ; ``client`` and ``cli`` talk to a server over HTTP.
"""

from typing import TYPE_CHECKING

from modelyard.version import __version__

if TYPE_CHECKING:
    from modelyard.client import Client
    from modelyard.models import log_model

__all__ = ["Client", "__version__", "log_model"]


def __getattr__(name: str) -> object:
    # The client pulls in httpx; keep `import modelyard` cheap for the server and serving processes.
    if name == "Client":
        from modelyard.client import Client

        return Client
    if name == "log_model":  # numpy and the flavor writers: only for those who log models
        from modelyard.models import log_model

        return log_model
    raise AttributeError(name)
