"""The SQLite WAL is checkpointed beside the requests (``WalCheckpointer``), not inside a commit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Metric
from modelyard.services import Services
from modelyard.storage import driver_sql
from modelyard.storage.db import SQLITE_AUTOCHECKPOINT_PAGES, WalCheckpointer


def _sqlite_file(services: Services) -> Path:
    url = services.settings.database_url
    if not url.startswith("sqlite"):
        pytest.skip("the WAL is SQLite's")
    return Path(url.removeprefix("sqlite:///"))


def _write_runs(services: Services, admin: Principal, n: int) -> None:
    eid = services.experiments.create_experiment(admin, name=f"wal-{time.monotonic_ns()}")
    for i in range(n):
        run = services.tracking.create_run(admin, experiment_id=eid, run_name=f"r{i}", start_time=i)
        services.tracking.log_batch(admin, run.run_id, metrics=[Metric("m", 0.5, 1, 0)], params={"p": "v"})


def test_commits_leave_the_copying_to_the_checkpointer(services: Services, admin: Principal) -> None:
    _sqlite_file(services)
    with services.db.write() as s:
        (pages,) = driver_sql.execute(s, "PRAGMA wal_autocheckpoint").one()
    assert pages == SQLITE_AUTOCHECKPOINT_PAGES
    _write_runs(services, admin, 30)
    frames, copied = services.db.checkpoint() or (0, 0)
    assert frames > 0 and copied == frames  # nothing was reading: all of it went back
    assert services.db.checkpoint() == (frames, frames)  # nothing new since


def test_the_checkpointer_copies_the_wal_back_while_it_runs(services: Services, admin: Principal) -> None:
    path = _sqlite_file(services)
    services.db.checkpoint()
    before = path.stat().st_size
    _write_runs(services, admin, 60)
    assert path.stat().st_size == before  # the new pages are in the WAL only
    checkpointer = WalCheckpointer(services.db, interval_s=0.01)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 30
        while path.stat().st_size == before and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        checkpointer.close()
    assert path.stat().st_size > before
    assert checkpointer._thread is not None and not checkpointer._thread.is_alive()


def test_nothing_to_checkpoint_on_postgresql(services: Services) -> None:
    if services.db.is_sqlite:
        pytest.skip("PostgreSQL only")
    checkpointer = WalCheckpointer(services.db)
    checkpointer.start()
    checkpointer.close()
    assert services.db.checkpoint() is None and checkpointer._thread is None
