"""CompareService: the runs of a comparison a user may read, and the others counted alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from modelyard.domain.compare import MAX_COMPARE_RUNS
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.identity import Principal
from modelyard.domain.tracking import LifecycleStage
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.compare_data import log_run


def test_runs_the_user_may_read_from_several_experiments_in_the_order_asked(
    services: Services, admin: Principal, make_user: Callable[..., UserCreds]
) -> None:
    viewer = services.identity.authenticate_token(make_user("vera", group="vision", role="viewer").token)
    owner = services.identity.authenticate_token(make_user("olga", group="vision").token)
    stranger = services.identity.authenticate_token(make_user("sam", group="nlp").token)
    e1 = services.experiments.create_experiment(owner, name="first")
    e2 = services.experiments.create_experiment(owner, name="second")
    hidden_exp = services.experiments.create_experiment(stranger, name="theirs")
    a = log_run(services, owner, e1, "a", params={"lr": "0.1"})
    b = log_run(services, owner, e2, "b")
    hidden = log_run(services, stranger, hidden_exp, "hidden")

    found = services.comparisons.compare(viewer, [b, "0" * 32, hidden, a, "<bad id>", b])
    assert [r.run_id for r in found.runs] == [b, a]
    assert found.runs[1].params == {"lr": "0.1"}
    assert found.not_found == ["0" * 32, hidden, "<bad id>"]
    assert found.experiment_names == {e1: "first", e2: "second"}

    everything = services.comparisons.compare(admin, [a, hidden])
    assert [r.run_id for r in everything.runs] == [a, hidden] and everything.not_found == []


def test_a_deleted_run_is_still_compared(services: Services, admin: Principal) -> None:
    eid = services.experiments.create_experiment(admin, name="e")
    run_id = log_run(services, admin, eid, "gone")

    services.tracking.set_run_lifecycle(admin, run_id, LifecycleStage.DELETED)
    found = services.comparisons.compare(admin, [run_id])
    assert found.runs[0].lifecycle_stage == "deleted"


def test_more_than_the_limit_is_refused(services: Services, admin: Principal) -> None:
    with pytest.raises(InvalidParameter, match=f"at most {MAX_COMPARE_RUNS}"):
        services.comparisons.compare(admin, [f"{i:032x}" for i in range(MAX_COMPARE_RUNS + 1)])
