"""Where ``--model-uri`` points: a local model directory, or a model on a tracking server to download.

Accepted forms: a directory path (or ``file://`` URI); ``runs:/<run_id>/<path>``; ``models:/<name>/<version>``,
``models:/<name>@<alias>``, ``models:/<name>/<stage>`` (``Staging``, ``Production``..., or ``latest``) and
``models:/m-<id>`` (an MLflow 3 logged model). Remote forms are resolved through the MLflow REST API
of a modelyard (or MLflow) server, and the files are fetched through its artifact proxy
(``mlflow-artifacts:/``), or read directly when the server stores them in a local directory
(``file://``) or in S3 (``s3://``, with boto3 and the usual AWS settings).

The server and credentials are found the way the modelyard client finds them (``--tracking-uri``,
``MODELYARD_URL``, ``MLFLOW_TRACKING_URI``, the user's config file; ``MODELYARD_TOKEN``,
``MLFLOW_TRACKING_TOKEN``, MLflow's basic-auth variables, the saved token). That logic is repeated
here in a few lines rather than imported: ``modelyard.client`` brings its whole SDK along, and a
replica's start-up time matters more than those lines.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlparse

from modelyard import userconfig
from modelyard.domain.errors import DomainError, ErrorCode

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:5050"
API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
_STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}


class ModelSourceError(DomainError):
    """The model URI cannot be resolved or its files cannot be fetched."""

    code = ErrorCode.INVALID_PARAMETER_VALUE


@dataclass(frozen=True)
class ModelSource:
    """A model directory on this machine, with the name and version the URI gave it."""

    uri: str
    local_dir: Path
    name: str
    version: str | None = None


def resolve(
    uri: str,
    *,
    tracking_uri: str | None = None,
    token: str | None = None,
    download_dir: str | Path | None = None,
    timeout: float = 60.0,
) -> ModelSource:
    """Resolve ``uri`` to a local model directory, downloading it when it is remote.

    Downloads go into ``download_dir`` (a new temporary directory when None: the caller removes
    it); a model already there under the same artifact URI is reused."""
    if uri.startswith(("models:", "runs:")):
        import httpx  # deferred: a model in a local directory starts without it (~150 ms)

        url = tracking_url(tracking_uri)
        with httpx.Client(base_url=url, headers=_auth_headers(url, token), timeout=timeout) as client:
            return _Remote(client, url, download_dir).resolve(uri)
    path = Path(unquote(urlparse(uri).path) if uri.startswith("file://") else uri).expanduser()
    if not path.exists():
        raise ModelSourceError(f"model directory {path} does not exist")
    if not (path / "MLmodel").is_file():
        raise ModelSourceError(f"{path} is not a model directory: it has no MLmodel file")
    return ModelSource(uri=uri, local_dir=path.resolve(), name=_name_of(path.resolve()))


def tracking_url(explicit: str | None = None) -> str:
    for candidate in (explicit, os.environ.get("MODELYARD_URL"), os.environ.get("MLFLOW_TRACKING_URI")):
        if candidate and candidate.startswith(("http://", "https://")):
            return candidate.rstrip("/")
    return (userconfig.default_url() or DEFAULT_URL).rstrip("/")


def _auth_headers(url: str, token: str | None) -> dict[str, str]:
    for value in (token, os.environ.get("MODELYARD_TOKEN"), os.environ.get("MLFLOW_TRACKING_TOKEN")):
        if value:
            return {"Authorization": f"Bearer {value}"}
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    saved = userconfig.credentials_for(url)
    if saved and saved.get("token"):
        return {"Authorization": f"Bearer {saved['token']}"}
    return {}


def _name_of(path: Path) -> str:
    return path.name or "model"


class _Remote:
    def __init__(self, client: httpx.Client, url: str, download_dir: str | Path | None) -> None:
        self.client = client
        self.url = url
        self.download_dir = Path(download_dir) if download_dir is not None else None

    def resolve(self, uri: str) -> ModelSource:
        if uri.startswith("runs:"):
            return self._run(uri)
        rest = uri[len("models:") :].lstrip("/")
        if "@" in rest:
            name, alias = rest.split("@", 1)
            found = self._get(
                "/registered-models/alias",
                {"name": name, "alias": alias},
                what=f"alias '{alias}' of model '{name}'",
            )
            version = str(found["model_version"]["version"])
            return self._version(uri, name, version)
        name, _, selector = rest.rpartition("/")
        if not name and selector.startswith("m-"):
            found = self._get(f"/logged-models/{quote(selector)}", {}, what=f"logged model {selector}")
            return self._fetch(uri, found["model"]["info"]["artifact_uri"], name=selector, version=None)
        if not name or not selector:
            raise ModelSourceError(
                f"model URI {uri!r} is not one of models:/<name>/<version>, models:/<name>@<alias>, "
                "models:/<name>/<stage>, runs:/<run_id>/<path>, or a directory"
            )
        if selector.isdigit():
            return self._version(uri, name, selector)
        return self._version(uri, name, self._latest(name, selector))

    def _latest(self, name: str, stage: str) -> str:
        stages = [] if stage.lower() == "latest" else [_STAGES.get(stage.lower(), stage)]
        found = self._post(
            "/registered-models/get-latest-versions", {"name": name, "stages": stages}, what=f"model '{name}'"
        )
        versions = [str(v["version"]) for v in found.get("model_versions", [])]
        if not versions:
            raise ModelSourceError(f"model '{name}' has no version in stage {stage!r} on {self.url}")
        return max(versions, key=int)

    def _version(self, uri: str, name: str, version: str) -> ModelSource:
        found = self._get(
            "/model-versions/get-download-uri",
            {"name": name, "version": version},
            what=f"model '{name}' version {version}",
        )
        return self._fetch(uri, found["artifact_uri"], name=name, version=version)

    def _run(self, uri: str) -> ModelSource:
        rest = uri[len("runs:") :].lstrip("/")
        run_id, _, path = rest.partition("/")
        if not run_id or not path:
            raise ModelSourceError(f"model URI {uri!r} must be runs:/<run_id>/<path of the model in the run>")
        run = self._get("/runs/get", {"run_id": run_id}, what=f"run {run_id}")["run"]
        name = path.strip("/")
        # MLflow 3 keeps a model logged in a run as a logged model of its own, named like the path
        for output in run.get("outputs", {}).get("model_outputs", []):
            model_id = output["model_id"]
            info = self._get(f"/logged-models/{quote(model_id)}", {}, what=f"logged model {model_id}")[
                "model"
            ]["info"]
            if info.get("name") == name:
                return self._fetch(uri, info["artifact_uri"], name=Path(name).name, version=None)
        root = run["info"]["artifact_uri"].rstrip("/")
        return self._fetch(uri, f"{root}/{name}", name=Path(name).name, version=None)

    # -- fetching files ---------------------------------------------------------------------------

    def _fetch(self, uri: str, artifact_uri: str, *, name: str, version: str | None) -> ModelSource:
        parsed = urlparse(artifact_uri)
        if parsed.scheme in ("", "file"):
            local = Path(unquote(parsed.path))
            if not (local / "MLmodel").is_file():
                raise ModelSourceError(f"{uri} resolves to {local}, which is not a model directory here")
            return ModelSource(uri=uri, local_dir=local, name=name, version=version)
        target = self._target(artifact_uri)
        if not (target / "MLmodel").is_file():
            partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
            try:
                if parsed.scheme == "mlflow-artifacts":
                    self._download_proxied(unquote(parsed.path).strip("/"), partial)
                elif parsed.scheme == "s3":
                    _download_s3(parsed.netloc, parsed.path.strip("/"), partial)
                else:
                    raise ModelSourceError(
                        f"{uri} is stored at {artifact_uri}; serve-model fetches mlflow-artifacts:/, s3:// "
                        "and local files"
                    )
                if not (partial / "MLmodel").is_file():
                    raise ModelSourceError(f"{uri} ({artifact_uri}) holds no MLmodel file: it is not a model")
                shutil.rmtree(target, ignore_errors=True)
                partial.rename(target)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        return ModelSource(uri=uri, local_dir=target, name=name, version=version)

    def _target(self, artifact_uri: str) -> Path:
        root = self.download_dir or Path(tempfile.mkdtemp(prefix="modelyard-model-"))
        root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(f"{self.url} {artifact_uri}".encode()).hexdigest()[:24]
        return root / digest

    def _download_proxied(self, path: str, into: Path) -> None:
        listing = self._request("GET", PROXY, params={"path": path}, what=f"artifacts at {path}").json()
        for entry in listing.get("files", []):
            rel = str(entry["path"]).strip("/")
            if not rel or ".." in Path(rel).parts:
                continue
            if entry.get("is_dir"):
                (into / rel).mkdir(parents=True, exist_ok=True)
                self._download_proxied(f"{path}/{rel}", into / rel)
                continue
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            with self.client.stream("GET", f"{PROXY}/{quote(f'{path}/{rel}')}") as response:
                self._check(response, what=f"artifact {path}/{rel}")
                with (into / rel).open("wb") as f:
                    for chunk in response.iter_bytes(1024 * 1024):
                        f.write(chunk)

    # -- HTTP -------------------------------------------------------------------------------------

    def _get(self, route: str, params: dict[str, str], *, what: str) -> Any:
        return self._request("GET", API + route, params=params, what=what).json()

    def _post(self, route: str, body: dict[str, Any], *, what: str) -> Any:
        return self._request("POST", API + route, json=body, what=what).json()

    def _request(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        import httpx  # already imported by resolve(); deferred for the same reason

        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ModelSourceError(f"cannot reach the tracking server at {self.url}: {exc}") from None
        self._check(response, what=what)
        return response

    def _check(self, response: httpx.Response, *, what: str) -> None:
        if response.status_code < 400:
            return
        if not response.is_closed:
            response.read()
        try:
            message = response.json().get("message") or response.text
        except ValueError:
            message = response.text
        if response.status_code in (401, 403):
            raise ModelSourceError(
                f"the tracking server at {self.url} refused access to {what} (HTTP {response.status_code}: "
                f"{message}); set MODELYARD_TOKEN or MLFLOW_TRACKING_TOKEN"
            )
        if response.status_code == 404:
            raise ModelSourceError(f"{what} not found on {self.url}: {message}")
        raise ModelSourceError(
            f"the tracking server at {self.url} failed on {what} (HTTP {response.status_code}: {message})"
        )


def _download_s3(bucket: str, prefix: str, into: Path) -> None:
    try:
        import boto3  # only for models stored in S3
    except ImportError as exc:
        raise ModelSourceError(f"fetching a model from s3:// needs boto3: {exc}") from None
    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    s3 = boto3.client("s3", endpoint_url=endpoint)
    found = False
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for item in page.get("Contents", []):
            rel = item["Key"][len(prefix.rstrip("/")) + 1 :]
            if not rel or rel.endswith("/") or ".." in Path(rel).parts:
                continue
            found = True
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(into / rel))
    if not found:
        raise ModelSourceError(f"s3://{bucket}/{prefix} holds no files")
