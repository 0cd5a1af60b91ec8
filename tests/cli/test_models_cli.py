"""``modelyard models ...`` and ``modelyard datasets lineage`` against the real server, with a real model:
register a run's model, list, show, versions, aliases, stages, download (the files load and predict like
the model in memory), lineage; and the errors a person can make, each one red line naming the cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelyard
from modelyard.client import Client
from modelyard.models import load_model
from tests.cli.conftest import Invoke
from tests.models.trained import Iris


@pytest.fixture(scope="module")
def iris() -> Iris:
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True, as_frame=True)
    return Iris(X=features, y=labels)


@pytest.fixture(scope="module")
def sk_model(iris: Iris) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300).fit(iris.X, iris.y)


@pytest.fixture
def trained_run(client: Client, iris: Iris, sk_model: Any) -> str:
    """A finished run 'train-iris' with params, a training dataset and a logged scikit-learn model."""
    with client.start_run(experiment_name="iris", run_name="train-iris") as run:
        client.log_params(run.run_id, {"C": 1.0, "max_iter": 300})
        client.log_input(
            run.run_id, name="iris", digest="abc123", source="/data/iris.csv", context="training"
        )
        modelyard.log_model(sk_model, "model", run=run, input_example=iris.X.head(2))
    return run.run_id


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def failed(result: Any, *words: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: "), result.stderr
    for word in words:
        assert word in " ".join(result.stderr.split()), (word, result.stderr)
    return str(result.stderr)


def test_register_list_show_alias_download_and_lineage(
    cli: Invoke, client: Client, trained_run: str, iris: Iris, sk_model: Any, tmp_path: Path
) -> None:
    out = ok(cli("models", "register", "--run", trained_run, "--name", "iris", "--description", "baseline"))
    assert f"Registered iris version 1 from run {trained_run} (runs:/{trained_run}/model)" in out
    assert "models:/iris/1" in out
    version = json.loads(ok(cli("models", "register", "--run", trained_run, "--name", "iris", "--json")))
    assert (version["name"], version["version"], version["run_id"]) == ("iris", 2, trained_run)

    listing = ok(cli("models", "list"))
    assert "iris" in listing and "1 model(s)" in listing
    models = json.loads(ok(cli("models", "list", "--json")))
    assert [(m["name"], m["version_count"], m["latest_version"]) for m in models] == [("iris", 2, 2)]
    assert json.loads(ok(cli("models", "list", "--name", "wine", "--json"))) == []

    assert "now names version 1" in ok(cli("models", "alias", "iris", "champion", "1"))
    out = ok(cli("models", "show", "iris"))
    assert "@champion→v1" in out and "Latest version per stage" in out
    versions = ok(cli("models", "versions", "iris"))
    assert "2 version(s)" in versions and trained_run in versions and "@champion" in versions
    listed = json.loads(ok(cli("models", "versions", "iris", "--json")))
    assert [(v["version"], v["aliases"], v["description"]) for v in listed] == [
        (2, [], ""),
        (1, ["champion"], "baseline"),
    ]

    # the alias moves; the download by alias then brings version 2's files, which predict like the model
    ok(cli("models", "alias", "iris", "champion", "2"))
    out = ok(cli("models", "download", "iris", "@champion", "--dst", str(tmp_path)))
    assert "Downloaded iris version 2" in out
    local = tmp_path / "iris-v2"
    assert (local / "MLmodel").is_file() and str(local) in " ".join(out.split())
    np.testing.assert_array_equal(load_model(local).predict(iris.X), sk_model.predict(iris.X))
    assert "Archived" in ok(cli("models", "stage", "iris", "1", "archived"))
    assert json.loads(ok(cli("models", "versions", "iris", "--json")))[1]["current_stage"] == "Archived"
    assert "removed" in ok(cli("models", "alias", "iris", "champion", "--delete"))
    assert client.registry.get_model("iris")["aliases"] == {}

    out = ok(cli("models", "lineage", "iris", "1"))
    for text in (
        "train-iris",
        "FINISHED",
        "max_iter",
        "300",
        "training",
        "abc123",
        "/data/iris.csv",
        "Python",
    ):
        assert text in out, text
    lineage = json.loads(ok(cli("models", "lineage", "iris", "1", "--json")))
    assert lineage["run"]["params"] == {"C": "1.0", "max_iter": "300"}
    assert lineage["run"]["experiment_name"] == "iris"
    (dataset,) = lineage["datasets"]
    assert (dataset["name"], dataset["context"]) == ("iris", "training")

    out = ok(cli("datasets", "lineage", dataset["dataset_id"]))
    assert "train-iris" in out and trained_run in out and "Model versions (2)" in out
    found = json.loads(ok(cli("datasets", "lineage", dataset["dataset_id"], "--json")))
    assert [(v["name"], v["version"]) for v in found["model_versions"]] == [("iris", 1), ("iris", 2)]


def test_mistakes_are_one_line_naming_the_cause(cli: Invoke, client: Client, sk_model: Any) -> None:
    with client.start_run(run_name="empty") as empty:
        pass
    failed(
        cli("models", "register", "--run", empty.run_id, "--name", "x"),
        f"Run {empty.run_id} has no logged model; log one with mlflow.<flavor>.log_model or "
        "modelyard.log_model",
    )
    with client.start_run() as two:
        modelyard.log_model(sk_model, "a", run=two)
        modelyard.log_model(sk_model, "b", run=two)
    failed(
        cli("models", "register", "--run", two.run_id, "--name", "x"),
        "logged 2 models (at 'a', 'b')",
        "--path",
    )
    assert "version 1" in ok(cli("models", "register", "--run", two.run_id, "--name", "x", "--path", "b"))
    failed(cli("models", "register", "--run", "0" * 32, "--name", "x"), f"Run with id={'0' * 32} not found")

    failed(cli("models", "versions", "ghost"), "No registered model 'ghost'")
    failed(cli("models", "show", "ghost"), "No registered model 'ghost'")
    failed(cli("models", "download", "ghost", "1"), "Registered Model with name=ghost not found")
    failed(cli("models", "lineage", "x", "7"), "Model Version (name=x, version=7) not found")
    failed(cli("models", "download", "x", "@nope"), "Registered model alias nope not found")
    failed(cli("models", "download", "x", "latest-ish"), "neither a number nor an alias")
    failed(cli("models", "alias", "x", "champion"), "Give a VERSION")
    failed(cli("models", "alias", "x", "champion", "9"), "version=9")
    failed(cli("models", "alias", "x", "v2", "1"), "reserved")
    failed(cli("models", "stage", "x", "1", "live"), "Unknown stage 'live'")
    failed(cli("datasets", "lineage", "nope"), "nope")
