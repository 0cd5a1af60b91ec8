"""Protocol codecs: each turns its protocol's request document into a ``payload`` (and options such
as parameters or requested outputs) and a model's output back into its protocol's response document.

They are pure functions over parsed JSON (``jsonio`` parses and writes the bytes): no I/O, no model
calls, so the dataplane composes them and tests can check them alone. ``seldon`` is Seldon Core's v1
prediction protocol, ``v2`` the Open Inference Protocol, ``mlflow`` MLflow's scoring protocol.
"""
