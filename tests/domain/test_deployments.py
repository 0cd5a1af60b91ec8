"""Deployment specs, history, phases and quotas: the rules, without a database."""

from __future__ import annotations

import re
from typing import Any

import pytest

from modelyard.domain.deployments import (
    HISTORY_LIMIT,
    DeploymentSpec,
    Phase,
    Replica,
    ReplicaState,
    merge_spec,
    parse_model_ref,
    parse_spec,
    push_history,
    replica_template,
    validate_deployment_name,
    with_replicas,
    with_restart,
)
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.quotas import (
    Quota,
    QuotaExceeded,
    Usage,
    check_quota,
    parse_cpu,
    parse_memory,
    parse_quota,
)


def spec(**predictor: Any) -> dict[str, Any]:
    return {"predictors": [{"model": "models:/iris/1", **predictor}]}


def test_minimal_spec_gets_documented_defaults() -> None:
    parsed = parse_spec(spec())
    assert parsed.to_json() == {
        "display_name": "",
        "description": "",
        "stage": "staging",
        "stop": False,
        "endpoint": {"access": "public"},
        "predictors": [
            {
                "name": "main",
                "model": "models:/iris/1",
                "replicas": 1,
                "resources": {"cpu": "500m", "memory": "512Mi", "gpu": 0},
                "instance_type": "",
                "env": {},
                "traffic": 100,
                "batching": {"max_batch_size": 0, "max_batch_wait_ms": 5.0},
            }
        ],
    }
    assert parse_spec(parsed.to_json()) == parsed  # round trip


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"predictors": [{"model": "models:/m/1"}], "colour": "red"}, "unknown field(s) ['colour']"),
        (spec(replicas=-1), "predictors[0].replicas: expected a whole number from 0 to 64, got -1"),
        (spec(replicas=True), "predictors[0].replicas"),
        (spec(replicas=65), "from 0 to 64"),
        ({"predictors": [{"model": "s3://bucket/m"}]}, "predictors[0].model: expected models:/"),
        ({"predictors": [{"model": "models:/m/0"}]}, "predictors[0].model"),
        ({"predictors": [{}]}, "predictors[0].model: required"),
        ({"predictors": []}, "predictors: expected a list of 1 to 8"),
        (spec(resources={"cpu": "lots"}), "predictors[0].resources.cpu: expected a number of cores"),
        (spec(resources={"memory": "12 parsecs"}), "predictors[0].resources.memory: expected a size"),
        (spec(env={"1BAD": "x"}), "is not a valid environment variable name"),
        (spec(env={"MODELYARD_TOKEN": "x"}), "MODELYARD_* variables are set by the platform"),
        (spec(traffic=50), "a single predictor takes all traffic"),
        ({**spec(), "stage": "prod"}, "stage: expected 'staging' or 'production'"),
        ({**spec(), "endpoint": {"access": "secret"}}, "endpoint.access"),
        ({**spec(), "stop": "yes"}, "stop: expected true or false"),
        ("not an object", "spec: expected a JSON object"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(raw: Any, message: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        parse_spec(raw)
    assert message in err.value.message


def test_two_predictors_split_traffic_and_need_distinct_names() -> None:
    raw = {
        "predictors": [
            {"name": "a", "model": "models:/m/1", "traffic": 90},
            {"name": "b", "model": "models:/m@canary", "traffic": 10},
        ]
    }
    parsed = parse_spec(raw)
    assert [(p.name, p.traffic) for p in parsed.predictors] == [("a", 90), ("b", 10)]
    raw["predictors"][1]["traffic"] = 20
    with pytest.raises(InvalidParameter, match=r"add up to 100, got \[90, 20\]"):
        parse_spec(raw)
    raw["predictors"][1].update(name="a", traffic=10)
    with pytest.raises(InvalidParameter, match="names must differ"):
        parse_spec(raw)


def test_model_references() -> None:
    assert parse_model_ref("models:/iris/3", "m").version == 3
    alias = parse_model_ref("models:/iris@champion", "m")
    assert (alias.name, alias.alias, alias.version) == ("iris", "champion", None)
    run = parse_model_ref("runs:/" + "a" * 32 + "/model", "m")
    assert (run.run_id, run.path) == ("a" * 32, "model")
    with pytest.raises(InvalidParameter, match=r"'\.\.'"):
        parse_model_ref("runs:/" + "a" * 32 + "/../x", "m")


@pytest.mark.parametrize("name", ["api", "Upper", "9lives", "-x", "x-", "a" * 41, "", "has_underscore"])
def test_deployment_names_are_url_safe(name: str) -> None:
    with pytest.raises(InvalidParameter, match="name:"):
        validate_deployment_name(name)


def test_merge_patches_one_predictor_by_name_and_keeps_the_rest() -> None:
    current = parse_spec(spec(replicas=2, env={"A": "1"}))
    merged = merge_spec(
        current, {"predictors": [{"name": "main", "model": "models:/iris/2"}], "description": "v2"}
    )
    p = merged.predictors[0]
    assert (p.model, p.replicas, p.env, merged.description) == ("models:/iris/2", 2, {"A": "1"}, "v2")
    with pytest.raises(InvalidParameter, match="unknown field"):
        merge_spec(current, {"replica": 3})


def test_scaling_and_usage() -> None:
    current = parse_spec(spec(resources={"cpu": "250m", "memory": "1Gi", "gpu": 1}))
    scaled = with_replicas(current, 3)
    assert scaled.replicas == 3
    assert scaled.usage() == Usage(cpu_m=750, memory_mi=3072, gpu=3, deployments=1)
    stopped = merge_spec(scaled, {"stop": True})
    assert stopped.replicas == 0 and stopped.usage() == Usage(deployments=1)
    with pytest.raises(InvalidParameter, match="no predictor named 'x'"):
        with_replicas(current, 1, "x")


def test_templates_change_with_the_model_not_with_replicas() -> None:
    base = parse_spec(spec())
    t1 = replica_template("d", base.predictors[0], "loc")
    assert replica_template("d", with_replicas(base, 3).predictors[0], "loc") == t1
    assert replica_template("d", base.predictors[0], "loc2") != t1
    changed = merge_spec(base, {"predictors": [{"name": "main", "env": {"X": "1"}}]})
    assert replica_template("d", changed.predictors[0], "loc") != t1


def test_a_restart_changes_the_template_and_nothing_else() -> None:
    base = parse_spec(
        {
            "predictors": [
                {"model": "models:/iris/1", "traffic": 50},
                {"model": "models:/iris/2", "traffic": 50},
            ]
        }
    )
    # never restarted: the field is absent, so specs and templates read as before restarts existed
    assert "restarted_at" not in base.to_json()["predictors"][0]
    t_main, t_p1 = (replica_template("d", p, "loc") for p in base.predictors)
    restarted = with_restart(base, 1_700_000_000_000)
    assert [p.restarted_at for p in restarted.predictors] == [1_700_000_000_000] * 2
    assert replica_template("d", restarted.predictors[0], "loc") != t_main
    again = parse_spec(restarted.to_json())  # stored and read back
    assert again == restarted and again.to_json()["predictors"][1]["restarted_at"] == 1_700_000_000_000
    only_p1 = with_restart(base, 5, "p1")
    assert replica_template("d", only_p1.predictors[0], "loc") == t_main
    assert replica_template("d", only_p1.predictors[1], "loc") != t_p1
    # a later change keeps the restart mark (predictors are merged by name), and scaling keeps the template
    single = with_restart(parse_spec(spec()), 7)
    assert (
        merge_spec(single, {"predictors": [{"name": "main", "replicas": 3}]}).predictors[0].restarted_at == 7
    )
    scaled = with_replicas(restarted, 3, "main")
    assert scaled.predictors[0].restarted_at == 1_700_000_000_000
    assert replica_template("d", scaled.predictors[0], "loc") == replica_template(
        "d", restarted.predictors[0], "loc"
    )
    with pytest.raises(
        InvalidParameter, match=re.escape("predictor: no predictor named 'x'; the deployment has: main, p1.")
    ):
        with_restart(base, 5, "x")
    with pytest.raises(InvalidParameter, match=r"predictors\[0\].restarted_at: expected a whole number"):
        parse_spec(spec(restarted_at=-1))


def test_history_keeps_the_latest_32_distinct_specs() -> None:
    history: list[dict[str, Any]] = []
    for i in range(40):
        history = push_history(history, i, "ann", {"n": i})
        history = push_history(history, i, "ann", {"n": i})  # unchanged: no new entry
    assert len(history) == HISTORY_LIMIT
    assert history[0] == {"time": 39, "actor": "ann", "spec": {"n": 39}}
    assert history[-1]["spec"] == {"n": 8}


def replica(name: str, state: ReplicaState, predictor: str = "main", message: str = "") -> Replica:
    return Replica(name=name, predictor=predictor, template="t", state=state, message=message)


def phase_of(parsed: DeploymentSpec, *replicas: Replica) -> tuple[Phase, str]:
    from modelyard.domain.deployments import derive_phase

    return derive_phase(parsed, list(replicas))


def test_phases_follow_primehub_rules() -> None:
    two = parse_spec(spec(replicas=2))
    assert phase_of(two)[0] is Phase.DEPLOYING
    phase, message = phase_of(two, replica("r1", ReplicaState.READY), replica("r2", ReplicaState.STARTING))
    assert (phase, message) == (Phase.DEPLOYING, "Deploying: 1 of 2 replica(s) available.")
    ready = (replica("r1", ReplicaState.READY), replica("r2", ReplicaState.READY))
    assert phase_of(two, *ready) == (Phase.DEPLOYED, "Deployed: 2 of 2 replica(s) available.")
    # an update: a third (new) replica while the two old ones still run
    assert phase_of(two, *ready, replica("r3", ReplicaState.STARTING))[0] is Phase.DEPLOYING
    crashed = phase_of(two, ready[0], replica("r2", ReplicaState.CRASHED, message="exit 1"))
    assert crashed[0] is Phase.DEPLOYING and "replica r2 crashed (exit 1), restarting" in crashed[1]
    failed = phase_of(two, ready[0], replica("r2", ReplicaState.FAILED, message="No module named 'xgboost'"))
    assert failed == (Phase.FAILED, "Replica r2 failed: No module named 'xgboost'")
    stopping = merge_spec(two, {"stop": True})
    assert phase_of(stopping, ready[0])[0] is Phase.STOPPING
    assert phase_of(stopping)[0] is Phase.STOPPED


def test_resource_quantities() -> None:
    assert [parse_cpu(v, "cpu") for v in (0.5, "500m", "2", 1, "1.5")] == [500, 500, 2000, 1000, 1500]
    assert [parse_memory(v, "m") for v in ("512Mi", "1Gi", "1G", 256, "1048576")] == [512, 1024, 954, 256, 1]
    with pytest.raises(InvalidParameter, match="cpu"):
        parse_cpu(-1, "cpu")


def test_quota_refusal_names_the_quota_what_is_used_and_left() -> None:
    quota = parse_quota({"cpu": 2, "memory": "4Gi", "deployments": 3})
    assert quota == Quota(cpu_m=2000, memory_mi=4096, gpu=None, deployments=3)
    in_use = Usage(cpu_m=1500, memory_mi=1024, deployments=2)
    with pytest.raises(QuotaExceeded) as err:
        check_quota("ds", quota, in_use, Usage(), Usage(cpu_m=1000, memory_mi=512, deployments=1))
    assert err.value.message == (
        "Quota exceeded in group 'ds': cpu quota is 2, 1500m in use, 500m left; this change needs 1 more."
    )
    # growing within the quota is fine; shrinking is always fine, even above a lowered quota
    check_quota("ds", quota, in_use, Usage(), Usage(cpu_m=500, memory_mi=512, deployments=1))
    over = Usage(cpu_m=5000, deployments=1)
    check_quota("ds", quota, over + Usage(deployments=1), over, Usage(cpu_m=4000, deployments=1))
    with pytest.raises(QuotaExceeded, match="deployments quota is 3, 3 in use, 0 left"):
        check_quota("ds", quota, Usage(deployments=3), Usage(), Usage(deployments=1))
    disabled = parse_quota({"deployments_enabled": False}, quota)
    assert disabled.cpu_m == 2000  # other limits kept
    with pytest.raises(QuotaExceeded, match="Model deployment is disabled for group 'ds'"):
        check_quota("ds", disabled, Usage(), Usage(), Usage(deployments=1))
    assert parse_quota({"cpu": None}, quota).cpu_m is None
    with pytest.raises(InvalidParameter, match=r"unknown field\(s\) \['cpus'\]"):
        parse_quota({"cpus": 1})
    with pytest.raises(InvalidParameter, match=r"quota\.gpu"):
        parse_quota({"gpu": -1})
