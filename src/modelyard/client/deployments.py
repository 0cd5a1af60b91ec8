"""Deployments and group quotas from the client: ``client.deployments`` and ``client.quotas``.

Each call is one call of the ``deployment`` resource API (``/deployment/api/``) or of ``/quota/api/``;
deployments are named by name (the API takes a name or an id wherever it takes ``<id>``). Answers are
the API's dicts: a deployment is ``{"id", "name", "group", "owner", "stage", "spec", "models",
"status": {"phase", "message", "replicas", "available_replicas", "endpoint", ...}, "history", "urls"}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from modelyard.client.errors import ModelyardError
from modelyard.client.resources import Filter, Resources, _result
from modelyard.client.transport import Transport

BASE = "/deployment/api"
SETTLED = frozenset({"Deployed", "Stopped", "Failed"})
Items = list[dict[str, Any]]


def _key(name: str | int) -> str:
    return quote(str(name), safe="")


def predictor_patch(
    current: Mapping[str, Any] | None,
    *,
    model: str | None = None,
    replicas: int | None = None,
    cpu: str | None = None,
    memory: str | None = None,
    predictor: str | None = None,
) -> list[dict[str, Any]] | None:
    """The ``predictors`` of a spec patch that changes one predictor (``predictor``, else the only one
    of ``current``, else ``main``); None when nothing is to change."""
    changes: dict[str, Any] = {}
    if model is not None:
        changes["model"] = model
    if replicas is not None:
        changes["replicas"] = replicas
    resources = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    if resources:
        base = {}
        if current is not None:
            found = _predictor(current, predictor)
            base = dict(found.get("resources", {})) if found else {}
        changes["resources"] = {**base, **resources}
    if not changes:
        return None
    name = predictor
    if name is None and current is not None:
        predictors = current.get("predictors", [])
        name = predictors[0]["name"] if len(predictors) == 1 else None
    return [{"name": name or "main", **changes}]


def _predictor(spec: Mapping[str, Any], name: str | None) -> dict[str, Any] | None:
    predictors = list(spec.get("predictors", []))
    if name is None:
        return predictors[0] if len(predictors) == 1 else None
    return next((p for p in predictors if p.get("name") == name), None)


class Deployments:
    def __init__(self, http: Transport, resources: Resources) -> None:
        self._http = http
        self.resources = resources

    # -- reading ------------------------------------------------------------------------------------
    def list(self, filters: Sequence[Filter] = (), *, limit: int | None = None) -> Items:
        """Deployments you can see, by name; ``filters`` like ``[("stage", "eq", "production")]``."""
        return list(self.resources.iterate("deployment", filters, limit=limit))

    def get(self, name: str | int) -> dict[str, Any]:
        return self.resources.get("deployment", _key(name))

    def history(self, name: str) -> Items:
        """Spec history, newest first; each entry's ``index`` is what ``rollback(to=...)`` takes."""
        return list(_result(self._http.get(f"{BASE}/{_key(name)}/history"))["data"])

    def wait(
        self,
        name: str,
        *,
        timeout: float = 60.0,
        poll: float = 0.5,
        until: frozenset[str] = SETTLED,
        sleep: Callable[[float], None] = time.sleep,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """The deployment once the controller has applied its latest spec and its phase is in ``until``
        (``Failed`` included by default: check the answer's phase); ModelyardError when ``timeout``
        seconds pass first. ``on_poll`` sees the deployment at every poll (to show progress)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.get(name)
            if on_poll is not None:
                on_poll(found)
            status = found["status"]
            if status["phase"] in until and status["observed_generation"] >= status["generation"]:
                return found
            if time.monotonic() >= deadline:
                raise ModelyardError(_still(name, status, timeout), error_code="DEADLINE_EXCEEDED")
            sleep(poll)

    # -- changing -----------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        model: str | None = None,
        replicas: int = 1,
        stage: str = "staging",
        group: str | None = None,
        cpu: str | None = None,
        memory: str | None = None,
        private: bool = False,
        spec: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A deployment of ``model`` (``models:/name/version``, ``models:/name@alias`` or
        ``runs:/<run_id>/<path>``) with one predictor; or of a whole ``spec`` (see docs/deployments.md)."""
        if spec is None:
            if model is None:
                raise ValueError("create() needs model= or spec=.")
            predictor: dict[str, Any] = {"name": "main", "model": model, "replicas": replicas}
            resources = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
            if resources:
                predictor["resources"] = resources
            spec = {"stage": stage, "predictors": [predictor]}
            if private:
                spec["endpoint"] = {"access": "private"}
        body: dict[str, Any] = {"name": name, **spec}
        if group is not None:
            body["group"] = group
        return self.resources.create("deployment", body)

    def deploy(self, model: str, *, name: str | None = None, group: str | None = None) -> dict[str, Any]:
        """Deploy ``model`` to staging in one call: one replica, your group, named after the model."""
        body = {k: v for k, v in (("model", model), ("name", name), ("group", group)) if v is not None}
        return self._call("POST", f"{BASE}/deploy", body)

    def update(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Change the spec: the fields of ``patch`` replace the current ones (predictors by name)."""
        return self.resources.update("deployment", _key(name), patch)

    def scale(self, name: str, replicas: int, *, predictor: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"replicas": replicas}
        if predictor is not None:
            body["predictor"] = predictor
        return self._call("POST", f"{BASE}/{_key(name)}/scale", body)

    def stop(self, name: str) -> dict[str, Any]:
        return self.resources.action("deployment", "stop", _key(name))

    def start(self, name: str) -> dict[str, Any]:
        """Start a stopped deployment; a ``Failed`` one (not stopped) is restarted: a retry."""
        return self.resources.action("deployment", "start", _key(name))

    def restart(self, name: str, *, predictor: str | None = None) -> dict[str, Any]:
        """Replace every replica (of ``predictor``, else of all) with a new one, surge-first, with the
        same spec: retries a ``Failed`` deployment, or rolls a healthy one's replicas."""
        body = {} if predictor is None else {"predictor": predictor}
        return self._call("POST", f"{BASE}/{_key(name)}/restart", body)

    def rollback(self, name: str, to: int = 1) -> dict[str, Any]:
        """Restore the spec of history entry ``to`` (1: the one before the latest change)."""
        return self._call("POST", f"{BASE}/{_key(name)}/rollback", {"to": to})

    def promote(self, name: str, target: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A new production deployment ``target`` from staging deployment ``name`` (group admins), with
        its own copy of the model files; ``overrides`` are spec fields (e.g. predictors' replicas)."""
        body: dict[str, Any] = {"name": target}
        if overrides:
            body["overrides"] = dict(overrides)
        return self._call("POST", f"{BASE}/{_key(name)}/promote", body)

    def delete(self, name: str) -> dict[str, Any]:
        """Delete the deployment; answers it as it was."""
        return self.resources.delete("deployment", _key(name))

    # -- client tokens of private endpoints -----------------------------------------------------------
    def tokens(self, name: str) -> Items:
        return list(_result(self._http.get(f"{BASE}/{_key(name)}/tokens"))["data"])

    def create_token(self, name: str, label: str = "") -> dict[str, Any]:
        """A new client token; its secret is the answer's ``token``, shown this once."""
        return self._call("POST", f"{BASE}/{_key(name)}/tokens", {"name": label})

    def revoke_token(self, name: str, token_id: int) -> dict[str, Any]:
        return dict(_result(self._http.call("DELETE", f"{BASE}/{_key(name)}/tokens/{int(token_id)}")))

    # -- logs -----------------------------------------------------------------------------------------
    def logs(
        self, name: str, *, replica: str | None = None, tail: int = 100, all_replicas: bool = False
    ) -> Items:
        """The last ``tail`` lines of each replica (or of ``replica``): ``[{"replica", "line"}]``;
        replicas that are gone only with ``all_replicas``."""
        params: dict[str, str | int] = {"tail": tail}
        if replica is not None:
            params["replica"] = replica
        if all_replicas:
            params["all"] = "true"
        return list(_result(self._http.get(f"{BASE}/{_key(name)}/logs", params))["lines"])

    def follow_logs(
        self, name: str, *, replica: str | None = None, tail: int = 10, all_replicas: bool = False
    ) -> Iterator[str]:
        """``[replica] line`` for the last ``tail`` lines and then each new one, until closed."""
        params: dict[str, str | int] = {"tail": tail, "follow": "true"}
        if replica is not None:
            params["replica"] = replica
        if all_replicas:
            params["all"] = "true"
        with self._http.stream(f"{BASE}/{_key(name)}/logs", params) as response:
            for line in response.iter_lines():
                if line:  # empty lines are the server's keep-alives
                    yield line

    def _call(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        # changes are not retried once sent: scaling or promoting twice is not the same as once
        return dict(_result(self._http.call(method, path, body=body, idempotent=False)))


def _still(name: str, status: Mapping[str, Any], timeout: float) -> str:
    if status["observed_generation"] < status["generation"]:
        why = (
            "the controller has not taken up the latest change yet (is this server's controller on, and is "
            "it the one that leads?)"
        )
    else:
        why = status["message"]
    return f"Deployment '{name}' is still {status['phase']} after {timeout:g}s: {why}"


class Quotas:
    """Group quotas: what each group's deployments may take (platform admins set them)."""

    def __init__(self, http: Transport) -> None:
        self._http = http

    def list(self) -> Items:
        """``[{"group", "quota", "usage"}]`` for the groups you belong to (platform admins: all)."""
        return list(_result(self._http.get("/quota/api/"))["data"])

    def get(self, group: str) -> dict[str, Any]:
        return dict(_result(self._http.get(f"/quota/api/{_key(group)}")))

    def set(self, group: str, **limits: Any) -> dict[str, Any]:
        """Change some of ``cpu`` ("4", "500m"), ``memory`` ("8Gi"), ``gpu``, ``deployments``,
        ``deployments_enabled``; ``None`` removes a limit. Platform admins only."""
        return dict(_result(self._http.call("PUT", f"/quota/api/{_key(group)}", body=limits)))
