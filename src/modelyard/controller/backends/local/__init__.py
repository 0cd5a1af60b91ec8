"""The local backend: every replica an OS process of ``modelyard serve-model`` on a loopback port.

``backend`` adopts, starts, probes, restarts and drains replicas; ``processes`` spawns and identifies
them (pid and start time); ``log_files`` reads their log files. Exports ``LocalBackend`` and ``Liveness``.
"""

from modelyard.controller.backends.local.backend import Liveness, LocalBackend

__all__ = ["Liveness", "LocalBackend"]
