"""The deployment controller: makes the replicas of every deployment match its spec.

``Controller`` runs in the server process (one per server; with several servers on one database a lease
decides which one reconciles): ``reconciler`` is the loop, ``plan`` the pure step for one predictor,
``lease`` the election, ``model_cache`` the local copies of remote models. ``backends`` run the
replicas behind one ``Backend`` interface: ``backends.local`` as OS processes of ``modelyard
serve-model`` (a Kubernetes backend will sit beside it).
"""

from modelyard.controller.backends import Backend, LogLine, ReplicaSpec
from modelyard.controller.backends.local import LocalBackend
from modelyard.controller.reconciler import Controller, Timing

__all__ = ["Backend", "Controller", "LocalBackend", "LogLine", "ReplicaSpec", "Timing"]
