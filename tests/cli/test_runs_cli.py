"""``modelyard runs list|show|compare`` against the real server, output content checked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.schemas import Metric
from tests.cli.conftest import Invoke


@pytest.fixture
def experiment(client: Client) -> str:
    """An experiment 'sweep' with runs trial-0..trial-4; trial-i has lr=0.i, epochs=10, score=i."""
    eid = client.create_experiment("sweep")
    for i in range(5):
        run_id = client.create_run(eid, run_name=f"trial-{i}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(key="score", value=float(i), timestamp=1, step=0)],
            params={"lr": f"0.{i}", "epochs": 10},
        )
        client.end_run(run_id)
    return eid


def _ids_by_name(client: Client, eid: str) -> dict[str, str]:
    return {r.info.run_name: r.info.run_id for r in client.search_runs(eid)}


def test_list_by_name_and_by_id(cli: Invoke, client: Client, experiment: str) -> None:
    ids = _ids_by_name(client, experiment)
    for ref in ("sweep", experiment):
        result = cli("runs", "list", "--experiment", ref)
        assert result.exit_code == 0, result.output
        for name, run_id in ids.items():
            assert name in result.stdout and run_id in result.stdout
        assert "FINISHED" in result.stdout
        assert "score" in result.stdout and "param lr" in result.stdout
        assert "5 run(s)" in result.stdout


def test_list_filter_order_and_max(cli: Invoke, experiment: str) -> None:
    result = cli(
        "runs",
        "list",
        "-e",
        "sweep",
        "--filter",
        "metrics.score >= 2",
        "--order-by",
        "metrics.score DESC",
        "--json",
    )
    assert result.exit_code == 0, result.output
    names = [r["info"]["run_name"] for r in json.loads(result.stdout)]
    assert names == ["trial-4", "trial-3", "trial-2"]

    result = cli("runs", "list", "-e", "sweep", "--order-by", "metrics.score ASC", "--max", "2")
    assert "trial-0" in result.stdout and "trial-1" in result.stdout and "trial-2" not in result.stdout
    assert "2 run(s)" in result.stdout


def test_list_unknown_experiment(cli: Invoke) -> None:
    result = cli("runs", "list", "--experiment", "nope")
    assert result.exit_code == 1
    assert "No experiment named or numbered 'nope'" in result.stderr
    assert "Traceback" not in result.output


def test_list_bad_filter(cli: Invoke, experiment: str) -> None:
    result = cli("runs", "list", "-e", "sweep", "--filter", "metrics.score >>> 1")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: INVALID_PARAMETER_VALUE")


def test_show_everything_about_a_run(cli: Invoke, client: Client, tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    report = tmp_path / "work" / "report.txt"
    report.write_text("hello")
    with client.start_run(experiment_name="showcase", run_name="detailed", tags={"owner": "ana"}) as run:
        run.log_params({"lr": "0.05", "depth": 7})
        run.log_metric("rmse", 0.25, step=3)
        run.log_input(name="houses", digest="d1g35t", source="/data/houses.csv", context="training")
        run.log_artifact(report)

    result = cli("runs", "show", run.run_id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (
        run.run_id,
        "detailed",
        "showcase",
        "FINISHED",
        "lr",
        "0.05",
        "depth",
        "rmse",
        "0.25",
        "owner",
        "ana",
        "houses",
        "d1g35t",
        "training",
        "report.txt",
        "Environment",
        "Python",
    ):
        assert expected in out, expected
    env = client.get_run(run.run_id).environment
    assert env is not None and env.python_version is not None and env.python_version in out

    data = json.loads(cli("runs", "show", run.run_id, "--json").stdout)
    assert data["info"]["run_id"] == run.run_id
    assert {"key": "depth", "value": "7"} in data["data"]["params"]
    assert data["environment"]["python_version"] == env.python_version


def test_show_code_version(
    cli: Invoke, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", "-b", "feature-x"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "c"], cwd=repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    )
    monkeypatch.chdir(repo)
    with client.start_run(capture_env=False) as run:
        pass
    result = cli("runs", "show", run.run_id)
    assert result.exit_code == 0, result.output
    assert "Code version" in result.stdout
    assert commit.stdout.strip() in result.stdout
    assert "feature-x" in result.stdout


def test_show_unknown_run(cli: Invoke) -> None:
    result = cli("runs", "show", "f" * 32)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: RESOURCE_DOES_NOT_EXIST")
    assert len(result.stderr.strip().splitlines()) == 1


def test_compare_highlights_differences(cli: Invoke, client: Client, experiment: str) -> None:
    ids = _ids_by_name(client, experiment)
    a, b = ids["trial-1"], ids["trial-3"]
    data = json.loads(cli("runs", "compare", a, b, "--json").stdout)
    assert [r["run_id"] for r in data["runs"]] == [a, b]
    assert data["rows"]["params.lr"] == ["0.1", "0.3"]
    assert data["rows"]["params.epochs"] == ["10", "10"]
    assert data["rows"]["metrics.score"] == ["1", "3"]
    assert set(data["different"]) == {"params.lr", "metrics.score"}

    result = cli("runs", "compare", a, b)
    assert result.exit_code == 0, result.output
    marked = [line for line in result.stdout.splitlines() if "*" in line and "params." in line]
    assert any("params.lr" in line for line in marked)
    assert not any("params.epochs" in line for line in marked)
    assert "2 of 4 rows differ" in result.stdout

    result = cli("runs", "compare", a, b, "--diff")
    assert "params.lr" in result.stdout and "params.epochs" not in result.stdout


def test_compare_needs_two_runs(cli: Invoke, client: Client, experiment: str) -> None:
    result = cli("runs", "compare", next(iter(_ids_by_name(client, experiment).values())))
    assert result.exit_code == 1
    assert "at least two" in result.stderr


def test_names_are_shown_as_they_are(cli: Invoke, client: Client) -> None:
    # rich would turn ':rocket:' into an emoji; the CLI shows what was logged
    run_id = client.create_run("0", run_name="ship:rocket:").info.run_id
    client.log_param(run_id, "note", ":thumbs_up: [bold]x[/bold]")
    listed = cli("runs", "list")
    assert listed.exit_code == 0, listed.output
    assert "ship:rocket:" in listed.stdout
    shown = cli("runs", "show", run_id)
    assert "ship:rocket:" in shown.stdout and ":thumbs_up: [bold]x[/bold]" in shown.stdout
