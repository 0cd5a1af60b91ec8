"""Services: the use cases of modelyard. Each public call owns its transaction and raises domain errors.

One package per subsystem: ``tracking`` (experiments, runs, logged models), ``registry`` (registered
models and versions, lineage), ``identity`` (users, groups, tokens, authentication), ``deployments``
(specs, runtime view, quotas) and ``resources`` (the generic resource API over all of them). Shared by
all: ``audit`` (the hash-chained event log), ``artifacts`` (artifact URIs to stores) and ``common``
(clock, ids, page tokens). ``build_services(settings)`` in ``container`` is the one factory that wires
them together; the API and tests call it and pass the result around (no module-level singletons).
"""

from modelyard.services.container import Services, build_services

__all__ = ["Services", "build_services"]
