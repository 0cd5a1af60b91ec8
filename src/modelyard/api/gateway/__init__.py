"""The inference gateway: ``/deployment/<name>/...`` forwarded to a ready replica of the deployment.

``proxy`` is the raw ASGI middleware (access check, body limit, forwarding, protocol-shaped errors),
``routes`` caches where each deployment's requests go and picks a replica, ``upstream`` is the pooled
HTTP/1.1 client for the hop to the replica, ``metrics`` its Prometheus series. Exports ``Gateway`` and
``GatewayMetrics``.
"""

from modelyard.api.gateway.metrics import GatewayMetrics
from modelyard.api.gateway.proxy import Gateway

__all__ = ["Gateway", "GatewayMetrics"]
