"""API: the HTTP surfaces of one ``modelyard server`` process.

``create_app(settings)`` builds the services and mounts the routers: the MLflow REST API
(``/api/2.0/mlflow``, mirrored under ``/ajax-api``), the MLflow artifact proxy, the native resource API
(``/<resource>/api/``) and health endpoints. Routes stay thin: parse, call one service, map errors.
"""
