"""The inference gateway: ``/deployment/<name>/...`` forwarded to a ready replica of the deployment.

``proxy`` is the raw ASGI middleware (access check, body limit, forwarding), ``shapes`` its errors in
each protocol's shape, ``routes`` caches where each deployment's requests go and picks a replica,
``upstream`` is the pooled HTTP/1.1 client for the hop to the replica, ``metrics`` its Prometheus
series. ``modelyard server`` runs it in a process of its own (``process``) in front of the API, to
which ``relay`` passes every other request over ``stream`` connections; ``runfiles`` is where the
processes find each other and ``supervisor`` the server's side (adopt, start, replace, stop).
Exports ``Gateway`` and ``GatewayMetrics``.
"""

from modelyard.api.gateway.metrics import GatewayMetrics
from modelyard.api.gateway.proxy import Gateway

__all__ = ["Gateway", "GatewayMetrics"]
