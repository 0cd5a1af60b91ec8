"""The deployment controller: makes the replicas of every deployment match its spec.

``Controller`` runs in the server process (one per server; with several servers on one database a lease
decides which one reconciles). Backends run the replicas: ``LocalBackend`` as OS processes of
``modelyard serve-model``; a Kubernetes backend implements the same ``Backend`` interface.
"""

from modelyard.controller.backend import Backend, LogLine, ReplicaSpec
from modelyard.controller.local import LocalBackend
from modelyard.controller.reconciler import Controller, Timing

__all__ = ["Backend", "Controller", "LocalBackend", "LogLine", "ReplicaSpec", "Timing"]
