"""CLI: typer + rich. Everything except ``server`` and ``db`` talks to a server through ``modelyard.client``."""
