"""The hash-chained audit trail, shared by every subsystem: ``record`` a change in the change's own
transaction (``trail``); count high-volume appends — metric points, artifact uploads — and chain one
summary per resource and interval (``appends``); count refused authentications per client and chain
them as bounded summaries (``refusals``); the thread that writes the summaries (``background``)."""

from modelyard.services.audit.appends import AppendSummaries, tally
from modelyard.services.audit.background import AuditBackground
from modelyard.services.audit.refusals import RefusalAggregator
from modelyard.services.audit.trail import AuditService, record

__all__ = ["AppendSummaries", "AuditBackground", "AuditService", "RefusalAggregator", "record", "tally"]
