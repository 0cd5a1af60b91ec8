"""Services: the use cases of modelyard. Each public call owns its transaction and raises domain errors.

``build_services(settings)`` is the one factory that wires the database, the artifact store and the
services together; the API and tests call it and pass the result around (no module-level singletons).
"""

from modelyard.services.container import Services, build_services

__all__ = ["Services", "build_services"]
