"""Acceptance: the model registry driven by the official mlflow client against a live server."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = [
    pytest.mark.mlflow_client,
    # stages are deprecated in the client (aliases replace them) but still part of the API it speaks
    pytest.mark.filterwarnings("ignore:.*Model registry stages will be removed.*:FutureWarning"),
]

# given, so that mlflow does not spend seconds inferring them from the environment
_REQUIREMENTS = ["scikit-learn"]


@pytest.fixture
def iris_models(mlflow_client: Any) -> dict[str, Any]:
    """Two sklearn models logged and registered as versions 1 and 2 of 'iris', and the data."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_client
    x, y = load_iris(return_X_y=True)
    first = LogisticRegression(max_iter=300).fit(x, y)
    second = LogisticRegression(max_iter=300, C=0.01).fit(x, y)
    mlflow.set_experiment("registry-acceptance")
    infos = []
    for model in (first, second):
        with mlflow.start_run():
            infos.append(
                mlflow.sklearn.log_model(
                    model, name="model", registered_model_name="iris", pip_requirements=_REQUIREMENTS
                )
            )
    return {"x": x, "models": (first, second), "infos": infos}


def test_log_model_registers_versions_and_load_by_version_and_alias(
    mlflow_client: Any, iris_models: dict[str, Any]
) -> None:
    mlflow = mlflow_client
    client = mlflow.MlflowClient()
    x = iris_models["x"]
    first, second = iris_models["models"]
    info1, info2 = iris_models["infos"]
    assert (info1.registered_model_version, info2.registered_model_version) == ("1", "2")

    v1 = client.get_model_version("iris", "1")
    assert v1.status == "READY"
    assert v1.source == f"models:/{info1.model_id}"
    assert v1.run_id == info1.run_id
    assert v1.current_stage == "None"

    client.set_registered_model_alias("iris", "champion", "1")
    assert client.get_model_version_by_alias("iris", "champion").version == "1"
    assert client.get_registered_model("iris").aliases == {"champion": "1"}

    by_version = mlflow.pyfunc.load_model("models:/iris/1")
    by_alias = mlflow.pyfunc.load_model("models:/iris@champion")
    expected = first.predict(x[:20])
    np.testing.assert_array_equal(by_version.predict(x[:20]), expected)
    np.testing.assert_array_equal(by_alias.predict(x[:20]), expected)
    latest = mlflow.pyfunc.load_model("models:/iris/2")
    np.testing.assert_array_equal(latest.predict(x[:20]), second.predict(x[:20]))

    # the alias moves: loading by alias now gives version 2
    client.set_registered_model_alias("iris", "champion", "2")
    moved = mlflow.pyfunc.load_model("models:/iris@champion")
    np.testing.assert_array_equal(moved.predict(x[:20]), second.predict(x[:20]))
    client.delete_registered_model_alias("iris", "champion")
    assert client.get_registered_model("iris").aliases == {}


def test_stages_search_latest_rename_and_delete(mlflow_client: Any, iris_models: dict[str, Any]) -> None:
    mlflow = mlflow_client
    client = mlflow.MlflowClient()
    info1, info2 = iris_models["infos"]

    staged = client.transition_model_version_stage("iris", "1", "Production")
    assert staged.current_stage == "Production"
    moved = client.transition_model_version_stage("iris", "2", "production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert client.get_model_version("iris", "1").current_stage == "Archived"
    latest = client.get_latest_versions("iris", stages=["Production"])
    assert [(v.version, v.current_stage) for v in latest] == [("2", "Production")]
    every_stage = client.get_latest_versions("iris")
    assert [(v.version, v.current_stage) for v in every_stage] == [("1", "Archived"), ("2", "Production")]

    client.update_registered_model("iris", description="iris classifiers")
    client.set_registered_model_tag("iris", "team", "vision")
    client.update_model_version("iris", "2", description="smaller C")
    client.set_model_version_tag("iris", "2", "validated", "yes")
    client.create_registered_model("other-model")

    found = client.search_registered_models(filter_string="name LIKE 'iri%'")
    assert [m.name for m in found] == ["iris"]
    assert found[0].description == "iris classifiers"
    assert found[0].tags == {"team": "vision"}
    assert [m.name for m in client.search_registered_models()] == ["iris", "other-model"]
    assert [m.name for m in client.search_registered_models(filter_string="tags.team = 'vision'")] == ["iris"]
    page = client.search_registered_models(max_results=1, order_by=["name DESC"])
    assert [m.name for m in page] == ["other-model"] and page.token
    rest = client.search_registered_models(max_results=1, order_by=["name DESC"], page_token=page.token)
    assert [m.name for m in rest] == ["iris"]

    versions = client.search_model_versions("name = 'iris'", order_by=["version_number ASC"])
    assert [(v.version, v.run_id) for v in versions] == [("1", info1.run_id), ("2", info2.run_id)]
    tagged = client.search_model_versions("name = 'iris' AND tags.validated = 'yes'")
    assert [(v.version, v.description) for v in tagged] == [("2", "smaller C")]
    by_run = client.search_model_versions(f"run_id = '{info1.run_id}'")
    assert [v.version for v in by_run] == ["1"]

    client.rename_registered_model("iris", "iris-renamed")
    assert client.get_model_version("iris-renamed", "2").description == "smaller C"
    with pytest.raises(mlflow.exceptions.MlflowException) as err:
        client.get_registered_model("iris")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    client.delete_model_version("iris-renamed", "1")
    assert [v.version for v in client.search_model_versions("name = 'iris-renamed'")] == ["2"]
    client.delete_registered_model("iris-renamed")
    assert [m.name for m in client.search_registered_models()] == ["other-model"]
    with pytest.raises(mlflow.exceptions.MlflowException) as err:
        client.get_model_version("iris-renamed", "2")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_register_model_from_a_run_uri(mlflow_client: Any) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_client
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300, C=0.5).fit(x, y)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="clf", pip_requirements=_REQUIREMENTS)
    version = mlflow.register_model(f"runs:/{run.info.run_id}/clf", "classifiers")
    assert version.version == "1"
    assert version.run_id == run.info.run_id
    loaded = mlflow.pyfunc.load_model("models:/classifiers/1")
    np.testing.assert_array_equal(loaded.predict(x[:30]), model.predict(x[:30]))
