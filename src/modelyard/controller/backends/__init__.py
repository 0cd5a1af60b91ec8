"""Deployment backends: what runs replicas. ``base`` is the interface the reconciler drives
(``Backend``, ``ReplicaSpec``, ``LogLine``); ``local`` runs each replica as an OS process on this
machine. A backend imports neither another backend nor the reconciler (an import-linter contract).
"""

from modelyard.controller.backends.base import Backend, LogLine, ReplicaSpec

__all__ = ["Backend", "LogLine", "ReplicaSpec"]
