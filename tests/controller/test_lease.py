"""The controller lease on the real database: one holder at a time, taken over on release or expiry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelyard.controller.lease import Lease
from modelyard.settings import Settings
from modelyard.storage.db import Database
from tests.controller.conftest import wait_for


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


def test_one_holder_at_a_time_and_takeover_on_release(db: Database) -> None:
    a = Lease(db, name="deployments", holder="a", renew_s=0)
    b = Lease(db, name="deployments", holder="b", renew_s=0)
    assert (a.hold(), b.hold()) == (True, False)
    assert (a.hold(), b.hold()) == (True, False)  # renewing keeps it
    assert b.holder_now() == "a"
    a.release()
    assert (b.hold(), a.hold()) == (True, False)
    assert a.holder_now() == "b"


def test_an_expired_lease_is_taken_over(db: Database) -> None:
    a = Lease(db, name="deployments", holder="a", duration_s=0.3, renew_s=0)
    b = Lease(db, name="deployments", holder="b", renew_s=0)
    assert a.hold()
    wait_for(b.hold, "b to take the expired lease", timeout=30)
    assert not a.hold()
    assert b.holder_now() == "b"


def test_leases_by_name_are_independent(db: Database) -> None:
    assert Lease(db, name="x", holder="a", renew_s=0).hold()
    assert Lease(db, name="y", holder="b", renew_s=0).hold()
