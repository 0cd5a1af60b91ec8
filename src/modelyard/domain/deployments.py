"""Deployments: the spec a user writes, the status the controller reports, and the rules between them.

A deployment serves registered model versions over HTTP through one or more *predictors*, each with its
own replicas, resources and share of the traffic. Its ``spec`` is desired state; every change to it is
kept in ``history`` (newest first, the latest 32), so any earlier spec can be restored. The controller
compares the spec with the replicas its backend runs and reports ``status``: a ``phase`` (PrimeHub's
Deploying / Deployed / Stopping / Stopped / Failed) with a message a person can act on.

Specs arrive as JSON from the API, the CLI and the client. ``parse_spec`` is strict: an unknown field, a
wrong type or an out-of-range value is refused with a message naming the field, so nothing a user sends
is silently dropped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

import orjson

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.quotas import Resources, Usage, parse_cpu, parse_memory
from modelyard.domain.values import artifact_subpath

HISTORY_LIMIT = 32
MAX_REPLICAS = 64
MAX_PREDICTORS = 8
RESERVED_NAMES = frozenset({"api", "_info", "action", "multi_action"})
_NAME_RE = re.compile(r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_MODEL_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[1-9][0-9]*)|@(?P<alias>[A-Za-z0-9_-]+))$")
_RUN_RE = re.compile(r"^runs:/(?P<run_id>[0-9a-f]{32})/(?P<path>[^\s]+)$")


class Phase(StrEnum):
    DEPLOYING = "Deploying"
    DEPLOYED = "Deployed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"


class Stage(StrEnum):
    STAGING = "staging"
    PRODUCTION = "production"


class EndpointAccess(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class ReplicaState(StrEnum):
    STARTING = "starting"  # launched, not yet ready
    READY = "ready"  # answering, part of the endpoint
    DRAINING = "draining"  # out of the endpoint, finishing in-flight requests
    CRASHED = "crashed"  # exited; waiting for its restart back-off
    FAILED = "failed"  # gave up: the model cannot be served as specified


# ---- the spec --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ModelRef:
    """``models:/name/3``, ``models:/name@alias`` or ``runs:/<run_id>/<path>``."""

    uri: str
    name: str | None = None
    version: int | None = None
    alias: str | None = None
    run_id: str | None = None
    path: str | None = None


def parse_model_ref(raw: Any, where: str) -> ModelRef:
    if isinstance(raw, str):
        if m := _MODEL_RE.match(raw):
            version = int(m["version"]) if m["version"] else None
            return ModelRef(raw, name=m["name"], version=version, alias=m["alias"])
        if m := _RUN_RE.match(raw):
            path = artifact_subpath(m["path"], f"{where}: run model path")
            return ModelRef(raw, run_id=m["run_id"], path=path)
    raise InvalidParameter(
        f"{where}: expected models:/<name>/<version>, models:/<name>@<alias> or runs:/<run_id>/<path>, "
        f"got {raw!r}."
    )


@dataclass(frozen=True, slots=True)
class Batching:
    max_batch_size: int = 0
    max_batch_wait_ms: float = 5.0


@dataclass(frozen=True, slots=True)
class PredictorSpec:
    name: str
    model: str
    replicas: int = 1
    resources: Resources = field(default_factory=Resources)
    instance_type: str = ""
    env: dict[str, str] = field(default_factory=dict)
    traffic: int = 100
    batching: Batching = field(default_factory=Batching)
    restarted_at: int = 0  # ms; set by a restart, so that every replica is replaced (0: never)

    @property
    def model_ref(self) -> ModelRef:
        return parse_model_ref(self.model, f"predictor {self.name!r} model")

    def to_json(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "model": self.model,
            "replicas": self.replicas,
            "resources": self.resources.to_json(),
            "instance_type": self.instance_type,
            "env": dict(self.env),
            "traffic": self.traffic,
            "batching": asdict(self.batching),
        }
        if self.restarted_at:  # absent until the first restart, so that older specs read the same
            data["restarted_at"] = self.restarted_at
        return data


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    predictors: tuple[PredictorSpec, ...]
    display_name: str = ""
    description: str = ""
    stage: Stage = Stage.STAGING
    stop: bool = False
    access: EndpointAccess = EndpointAccess.PUBLIC

    def to_json(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "description": self.description,
            "stage": self.stage.value,
            "stop": self.stop,
            "endpoint": {"access": self.access.value},
            "predictors": [p.to_json() for p in self.predictors],
        }

    def predictor(self, name: str) -> PredictorSpec | None:
        return next((p for p in self.predictors if p.name == name), None)

    @property
    def replicas(self) -> int:
        """Replicas wanted now: none when stopped."""
        return 0 if self.stop else sum(p.replicas for p in self.predictors)

    def usage(self) -> Usage:
        """What the deployment takes from its group's quota (a stopped one only its count)."""
        total = Usage(deployments=1)
        if self.stop:
            return total
        for p in self.predictors:
            r = p.resources
            total += Usage(r.cpu_m * p.replicas, r.memory_mi * p.replicas, r.gpu * p.replicas, 0)
        return total


def validate_deployment_name(name: Any) -> str:
    reserved = isinstance(name, str) and name in RESERVED_NAMES
    if not isinstance(name, str) or not _NAME_RE.match(name) or reserved:
        shown = repr(name[:60] if isinstance(name, str) else name)
        if isinstance(name, dict | list):
            shown = f"a JSON {'object' if isinstance(name, dict) else 'list'}"
        raise InvalidParameter(
            f"name: {shown} is not a valid deployment name: use 1-40 lowercase letters, digits and '-', "
            "starting with a letter and ending with a letter or digit (it becomes part of the endpoint's URL)"
            + (f"; {name!r} is reserved." if reserved else ".")
        )
    return name


def _fields(raw: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidParameter(f"{where}: expected a JSON object, got {type(raw).__name__}.")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InvalidParameter(f"{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}.")
    return raw


def _int(raw: Any, where: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise InvalidParameter(f"{where}: expected a whole number from {low} to {high}, got {raw!r}.")
    return raw


def _text(raw: Any, where: str, limit: int) -> str:
    if not isinstance(raw, str) or len(raw) > limit:
        raise InvalidParameter(f"{where}: expected text of at most {limit} characters.")
    return raw


def _resources(raw: Any, where: str) -> Resources:
    data = _fields(raw, where, {"cpu", "memory", "gpu"})
    base = Resources()
    return Resources(
        cpu_m=parse_cpu(data["cpu"], f"{where}.cpu") if "cpu" in data else base.cpu_m,
        memory_mi=parse_memory(data["memory"], f"{where}.memory") if "memory" in data else base.memory_mi,
        gpu=_int(data.get("gpu", 0), f"{where}.gpu", 0, 64),
    )


def _env(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidParameter(f"{where}: expected an object of NAME: value strings.")
    env: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _ENV_KEY_RE.match(key):
            raise InvalidParameter(f"{where}: {key!r} is not a valid environment variable name.")
        if key.startswith("MODELYARD_"):
            raise InvalidParameter(f"{where}.{key}: MODELYARD_* variables are set by the platform.")
        if not isinstance(value, str) or len(value) > 8192:
            raise InvalidParameter(f"{where}.{key}: expected a string of at most 8192 characters.")
        env[key] = value
    return env


def _batching(raw: Any, where: str) -> Batching:
    data = _fields(raw, where, {"max_batch_size", "max_batch_wait_ms"})
    wait = data.get("max_batch_wait_ms", 5.0)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 10_000:
        raise InvalidParameter(f"{where}.max_batch_wait_ms: expected a number from 0 to 10000.")
    return Batching(_int(data.get("max_batch_size", 0), f"{where}.max_batch_size", 0, 100_000), float(wait))


_PREDICTOR_FIELDS = {
    "name",
    "model",
    "replicas",
    "resources",
    "instance_type",
    "env",
    "traffic",
    "batching",
    "restarted_at",
}
MAX_TIME_MS = 2**53


def _predictor(raw: Any, index: int) -> PredictorSpec:
    where = f"predictors[{index}]"
    data = _fields(raw, where, _PREDICTOR_FIELDS)
    if "model" not in data:
        raise InvalidParameter(
            f"{where}.model: required (models:/<name>/<version> or models:/<name>@<alias>)."
        )
    name = data.get("name", "main" if index == 0 else f"p{index}")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidParameter(
            f"{where}.name: {name!r} must be 1-40 lowercase letters, digits and '-', starting with a letter."
        )
    model = parse_model_ref(data["model"], f"{where}.model").uri
    return PredictorSpec(
        name=name,
        model=model,
        replicas=_int(data.get("replicas", 1), f"{where}.replicas", 0, MAX_REPLICAS),
        resources=_resources(data.get("resources", {}), f"{where}.resources"),
        instance_type=_text(data.get("instance_type", ""), f"{where}.instance_type", 64),
        env=_env(data.get("env", {}), f"{where}.env"),
        traffic=_int(data.get("traffic", 100), f"{where}.traffic", 0, 100),
        batching=_batching(data.get("batching", {}), f"{where}.batching"),
        restarted_at=_int(data.get("restarted_at", 0), f"{where}.restarted_at", 0, MAX_TIME_MS),
    )


_SPEC_FIELDS = {"display_name", "description", "stage", "stop", "endpoint", "predictors"}


def parse_spec(raw: Any) -> DeploymentSpec:
    """A full spec from JSON, strictly: every problem is an ``InvalidParameter`` naming its field."""
    data = _fields(raw, "spec", _SPEC_FIELDS)
    predictors_raw = data.get("predictors")
    if not isinstance(predictors_raw, list) or not 1 <= len(predictors_raw) <= MAX_PREDICTORS:
        raise InvalidParameter(f"predictors: expected a list of 1 to {MAX_PREDICTORS} predictors.")
    predictors = tuple(_predictor(p, i) for i, p in enumerate(predictors_raw))
    names = [p.name for p in predictors]
    if len(set(names)) != len(names):
        raise InvalidParameter(f"predictors: names must differ, got {names}.")
    if len(predictors) > 1 and sum(p.traffic for p in predictors) != 100:
        raise InvalidParameter(
            f"predictors[].traffic: the shares must add up to 100, got {[p.traffic for p in predictors]}."
        )
    if len(predictors) == 1 and predictors[0].traffic != 100:
        raise InvalidParameter("predictors[0].traffic: a single predictor takes all traffic (100).")
    stage = data.get("stage", Stage.STAGING.value)
    if stage not in {s.value for s in Stage}:
        raise InvalidParameter(f"stage: expected 'staging' or 'production', got {stage!r}.")
    stop = data.get("stop", False)
    if not isinstance(stop, bool):
        raise InvalidParameter(f"stop: expected true or false, got {stop!r}.")
    endpoint = _fields(data.get("endpoint", {}), "endpoint", {"access"})
    access = endpoint.get("access", EndpointAccess.PUBLIC.value)
    if access not in {a.value for a in EndpointAccess}:
        raise InvalidParameter(f"endpoint.access: expected 'public' or 'private', got {access!r}.")
    return DeploymentSpec(
        predictors=predictors,
        display_name=_text(data.get("display_name", ""), "display_name", 250),
        description=_text(data.get("description", ""), "description", 4000),
        stage=Stage(stage),
        stop=stop,
        access=EndpointAccess(access),
    )


def merge_spec(current: DeploymentSpec, patch: Any) -> DeploymentSpec:
    """``current`` with the top-level fields of ``patch`` replaced (a partial update), validated whole.
    ``predictors`` in a patch may name existing predictors by name and give only what changes."""
    data = _fields(patch, "spec", _SPEC_FIELDS)
    merged = current.to_json()
    for key, value in data.items():
        if key == "predictors" and isinstance(value, list):
            by_name = {p["name"]: p for p in merged["predictors"]}
            items = []
            for i, item in enumerate(value):
                name = item.get("name", "main" if i == 0 else None) if isinstance(item, dict) else None
                base = by_name.get(name) if isinstance(name, str) else None
                items.append({**base, **item} if base is not None and isinstance(item, dict) else item)
            merged["predictors"] = items
        elif key == "endpoint" and isinstance(value, dict):
            merged["endpoint"] = {**merged["endpoint"], **value}
        else:
            merged[key] = value
    return parse_spec(merged)


def with_replicas(spec: DeploymentSpec, replicas: int, predictor: str | None = None) -> DeploymentSpec:
    """The spec scaled: one predictor (the only one when ``predictor`` is None) to ``replicas``."""
    _int(replicas, "replicas", 0, MAX_REPLICAS)
    if predictor is None:
        if len(spec.predictors) != 1:
            raise InvalidParameter(
                f"predictor: the deployment has {len(spec.predictors)} predictors; name the one to scale."
            )
        predictor = spec.predictors[0].name
    if spec.predictor(predictor) is None:
        raise InvalidParameter(f"predictor: no predictor named {predictor!r}.")
    return replace(
        spec,
        predictors=tuple(
            replace(p, replicas=replicas) if p.name == predictor else p for p in spec.predictors
        ),
    )


def with_restart(spec: DeploymentSpec, time_ms: int, predictor: str | None = None) -> DeploymentSpec:
    """The spec with every predictor (or ``predictor``) marked restarted at ``time_ms``: a new replica
    template, so the controller replaces each replica surge-first, like ``kubectl rollout restart``."""
    if predictor is not None and spec.predictor(predictor) is None:
        names = ", ".join(p.name for p in spec.predictors)
        raise InvalidParameter(f"predictor: no predictor named {predictor!r}; the deployment has: {names}.")
    return replace(
        spec,
        predictors=tuple(
            replace(p, restarted_at=time_ms) if predictor in (None, p.name) else p for p in spec.predictors
        ),
    )


def spec_digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def replica_template(deployment: str, predictor: PredictorSpec, model_location: str) -> str:
    """What identifies a replica's process: a change here (model, env, batching, a restart) replaces
    replicas; a change in replicas or traffic does not."""
    identity: dict[str, Any] = {
        "deployment": deployment,
        "model": predictor.model,
        "location": model_location,
        "env": predictor.env,
        "batching": asdict(predictor.batching),
        "resources": predictor.resources.to_json(),
    }
    if predictor.restarted_at:  # only then: replicas started before restarts existed keep their template
        identity["restarted_at"] = predictor.restarted_at
    return spec_digest(identity)


# ---- history ---------------------------------------------------------------------------------------
def push_history(
    history: list[dict[str, Any]], time_ms: int, actor: str, spec: dict[str, Any]
) -> list[dict[str, Any]]:
    """``history`` with ``{time, actor, spec}`` prepended when ``spec`` differs from the newest entry;
    the latest ``HISTORY_LIMIT`` are kept."""
    if history and history[0].get("spec") == spec:
        return history
    return [{"time": time_ms, "actor": actor, "spec": spec}, *history][:HISTORY_LIMIT]


# ---- status ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Replica:
    """One replica as the backend reports it (stored in the deployment's status)."""

    name: str
    predictor: str
    template: str
    state: ReplicaState
    url: str = ""
    pid: int | None = None
    restarts: int = 0
    started_at: int = 0
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Replica:
        return cls(**{**data, "state": ReplicaState(data["state"])})


def derive_phase(spec: DeploymentSpec, replicas: list[Replica], *, failure: str = "") -> tuple[Phase, str]:
    """The phase and message for a spec and the replicas that exist (PrimeHub's rules, plus: a predictor
    whose replicas gave up is ``Failed`` with their last error, not ``Deploying`` forever)."""
    if failure:
        return Phase.FAILED, failure
    if spec.stop:
        if replicas:
            return Phase.STOPPING, f"Stopping: {len(replicas)} replica(s) still draining."
        return Phase.STOPPED, "Stopped: no replicas run; start the deployment to serve again."
    failed = [r for r in replicas if r.state is ReplicaState.FAILED]
    if failed:
        return Phase.FAILED, f"Replica {failed[0].name} failed: {failed[0].message}".strip()
    wanted = spec.replicas
    if wanted == 0:
        return Phase.DEPLOYED, "Deployed with 0 replicas: requests are refused until it is scaled up."
    ready = [r for r in replicas if r.state is ReplicaState.READY]
    crashed = [r for r in replicas if r.state is ReplicaState.CRASHED]
    current = {r.name for r in ready}
    ready_by_predictor: dict[str, int] = {}
    for r in ready:
        ready_by_predictor[r.predictor] = ready_by_predictor.get(r.predictor, 0) + 1
    short = [p for p in spec.predictors if ready_by_predictor.get(p.name, 0) < p.replicas]
    stale = len(replicas) > wanted  # an update still replacing old replicas
    if not short and not stale:
        return Phase.DEPLOYED, f"Deployed: {len(current)} of {wanted} replica(s) available."
    detail = f"{min(len(ready), wanted)} of {wanted} replica(s) available"
    if crashed:
        detail += f"; replica {crashed[0].name} crashed ({crashed[0].message or 'no message'}), restarting"
    elif stale and not short:
        detail += "; replacing old replicas"
    return Phase.DEPLOYING, f"Deploying: {detail}."


def endpoint_path(name: str) -> str:
    return f"/deployment/{name}"
