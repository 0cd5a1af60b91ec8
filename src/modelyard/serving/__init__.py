"""The model server runtime: one process per deployment replica that loads a model version once and
answers prediction requests.

So far it holds ``flavors``: the registry of flavor loaders that turns a model directory (an MLmodel
file and its flavor files) into a ``LoadedModel`` with one ``predict`` call and declared
capabilities. The server itself (protocols, signature checks, batching) builds on that. It never
imports the platform's server side (``api``, ``services``, ``storage``): a replica needs only the
model's files.
"""
