"""API: the HTTP surfaces of one ``modelyard server`` process.

``create_app(settings)`` (``app``) builds the services and mounts the routers: ``mlflow`` (the MLflow
REST API under ``/api/2.0/mlflow``, mirrored under ``/ajax-api``, and the artifact proxy), ``resources``
(the native resource API, ``/<resource>/api/``), ``health`` and ``metrics``; ``gateway`` is the
inference data plane in front of them all (``/deployment/<name>/...``). Shared by the routers: ``auth``
(authentication middleware), ``errors`` (domain errors to HTTP), ``limits`` (body size), ``body`` and
``deps`` (request parsing). Routes stay thin: parse, call one service, map errors.
"""
