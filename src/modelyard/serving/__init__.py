"""The model server runtime: one process per deployment replica that loads a model version once and
answers prediction requests.

``flavors`` turns a model directory (an MLmodel file and its flavor files) into a ``LoadedModel``;
``runtime`` loads it once and warms it up; ``dataplane`` answers the three protocols (Seldon v1, Open
Inference V2, MLflow scoring) through ``codecs`` and ``signature`` checks, optionally through the
``batching`` component; ``rest`` is the thin ASGI layer and ``server`` runs it (``modelyard
serve-model``). It never
imports the platform's server side (``api``, ``services``, ``storage``): a replica needs only the
model's files.
"""
