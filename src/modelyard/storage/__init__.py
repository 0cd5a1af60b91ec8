"""Storage: SQLAlchemy ORM rows, repositories, Alembic migrations and artifact stores.

Repositories only add, flush and query; the service call that uses them owns the transaction
(``Database.read()`` / ``Database.write()``). Artifact stores (local directory, S3) sit behind one
interface chosen by URI scheme.
"""
