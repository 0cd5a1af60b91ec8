"""URLs of the registry's and datasets' pages, with every name quoted as one path segment (a model
name may hold spaces, ``?``, ``#`` or any letter; a dataset name may also hold ``/``). Templates get
them as ``links``."""

from __future__ import annotations

from urllib.parse import quote, urlencode


def _seg(value: object) -> str:
    return quote(str(value), safe="")


def model(name: str) -> str:
    return f"/models/{_seg(name)}"


def version(name: str, number: int | str) -> str:
    return f"/models/{_seg(name)}/versions/{_seg(number)}"


def run(run_id: str) -> str:
    return f"/runs/{_seg(run_id)}"


def experiment(experiment_id: str) -> str:
    return f"/experiments/{_seg(experiment_id)}"


def dataset(name: str, dataset_id: str | None = None) -> str:
    """A dataset's page (its name may hold ``/``: the page's path takes the rest of the URL), with
    one version selected."""
    url = f"/datasets/{quote(name, safe='')}"
    return f"{url}?{urlencode({'version': dataset_id})}" if dataset_id else url


def query(path: str, **params: object) -> str:
    """``path`` with the given query parameters, leaving out empty ones."""
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


LINKS = {
    "model": model,
    "version": version,
    "run": run,
    "experiment": experiment,
    "dataset": dataset,
    "query": query,
}
