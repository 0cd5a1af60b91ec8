"""CompareService: the runs of a comparison a user may read, and the others counted alike."""

from __future__ import annotations

import math
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
    assert [(r.experiment_id, r.experiment_name) for r in found.runs] == [(e2, "second"), (e1, "first")]

    everything = services.comparisons.compare(admin, [a, hidden])
    assert [r.run_id for r in everything.runs] == [a, hidden] and everything.not_found == []


def test_a_deleted_run_is_still_compared(services: Services, admin: Principal) -> None:
    eid = services.experiments.create_experiment(admin, name="e")
    run_id = log_run(services, admin, eid, "gone")

    services.tracking.set_run_lifecycle(admin, run_id, LifecycleStage.DELETED)
    found = services.comparisons.compare(admin, [run_id])
    assert found.runs[0].lifecycle_stage == "deleted"


def test_the_runs_carry_their_params_tags_and_latest_metric_values(
    services: Services, admin: Principal
) -> None:
    eid = services.experiments.create_experiment(admin, name="e")
    a = log_run(
        services,
        admin,
        eid,
        "a",
        params={"lr": "0.1", "opt": "adam"},
        tags={"team": "x"},
        metrics={"loss": [3.0, 2.0, 1.5], "odd": [1.0, math.nan]},
    )
    b = log_run(services, admin, eid, "", metrics={"loss": [math.inf]})
    first, second = services.comparisons.compare(admin, [a, b]).runs
    assert first.params == {"lr": "0.1", "opt": "adam"}
    assert first.tags == {"team": "x", "mlflow.runName": "a"}
    assert first.metrics["loss"] == 1.5 and math.isnan(first.metrics["odd"])
    assert first.run_name == "a" and first.status == "RUNNING" and first.end_time is None
    assert second.params == {} and second.metrics == {"loss": math.inf}
    assert second.run_name  # a run created without a name gets one


def test_more_than_the_limit_is_refused(services: Services, admin: Principal) -> None:
    with pytest.raises(InvalidParameter, match=f"at most {MAX_COMPARE_RUNS}"):
        services.comparisons.compare(admin, [f"{i:032x}" for i in range(MAX_COMPARE_RUNS + 1)])
