"""Alembic migrations, applied on server start and by ``modelyard db upgrade``."""
