"""Domain: entities, state rules and errors of modelyard. Imports nothing of ours.

Services raise the errors defined here; the API layer maps each one to an HTTP status and to the
wire shape of the surface that was called (MLflow's ``error_code``/``message``, or the resource
API's envelope).
"""
