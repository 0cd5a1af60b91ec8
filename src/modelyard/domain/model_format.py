"""The MLmodel format: what a model directory says about itself, read and written as MLflow does.

A model directory holds an ``MLmodel`` YAML file next to the flavor files. The file names the
*flavors* the model can be loaded as (``sklearn``, ``python_function``, ``modelyard_custom``...,
each with its own configuration), its signature, the saved input example, where it came from (run,
uuid, creation time) and which library wrote it. ``parse_mlmodel`` turns the text into a
``ModelSpec`` and refuses a malformed file with an ``InvalidParameter`` naming the field;
``dump_mlmodel`` writes one back. A flavor this code has never heard of is kept as is: choosing a
loader for it is the serving side's job, and that is where "unsupported" is said.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_signature import ColSpec, ParamSpec, Schema, Signature, TensorSpec

__all__ = [
    "MLMODEL_FILE",
    "PYFUNC_FLAVOR",
    "REQUIREMENTS_FILE",
    "ColSpec",
    "InputExampleInfo",
    "ModelSpec",
    "ParamSpec",
    "Schema",
    "Signature",
    "TensorSpec",
    "dump_mlmodel",
    "parse_mlmodel",
    "parse_requirements",
]

MLMODEL_FILE = "MLmodel"
REQUIREMENTS_FILE = "requirements.txt"
PYFUNC_FLAVOR = "python_function"
EXAMPLE_TYPES = ("dataframe", "ndarray", "json_object", "sparse_matrix_csc", "sparse_matrix_csr")

# PyYAML's safe loader, in C when PyYAML was built with libyaml (several times faster; same results)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Top-level keys this module gives a meaning to; any other key is kept in ``ModelSpec.extra``.
_KNOWN_KEYS = frozenset(
    {
        "flavors",
        "signature",
        "saved_input_example_info",
        "model_uuid",
        "run_id",
        "artifact_path",
        "utc_time_created",
        "mlflow_version",
        "modelyard_version",
        "model_id",
        "metadata",
        "model_size_bytes",
    }
)


@dataclass(frozen=True)
class InputExampleInfo:
    """Where the input example lies in the model directory and how it is encoded."""

    artifact_path: str
    type: str
    pandas_orient: str | None = None
    serving_input_path: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.extra, "artifact_path": self.artifact_path, "type": self.type}
        if self.pandas_orient is not None:
            out["pandas_orient"] = self.pandas_orient
        if self.serving_input_path is not None:
            out["serving_input_path"] = self.serving_input_path
        return out


@dataclass(frozen=True)
class ModelSpec:
    """The parsed MLmodel file. ``requirements`` is not in the YAML: whoever reads a model directory
    fills it from the ``requirements.txt`` beside it."""

    flavors: Mapping[str, Mapping[str, Any]]
    signature: Signature | None = None
    saved_input_example_info: InputExampleInfo | None = None
    model_uuid: str | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    utc_time_created: str | None = None
    mlflow_version: str | None = None
    modelyard_version: str | None = None
    model_id: str | None = None
    metadata: Mapping[str, Any] | None = None
    model_size_bytes: int | None = None
    requirements: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def flavor(self, name: str) -> Mapping[str, Any]:
        """The configuration of flavor ``name``; InvalidParameter when the model does not have it."""
        try:
            return self.flavors[name]
        except KeyError:
            have = ", ".join(self.flavors) or "none"
            raise InvalidParameter(f"the model has no '{name}' flavor (it has: {have})") from None

    @property
    def env_files(self) -> Mapping[str, str]:
        """Environment files named by the python_function flavor (``conda``, ``virtualenv``)."""
        env = self.flavors.get(PYFUNC_FLAVOR, {}).get("env")
        if isinstance(env, str):  # MLflow < 2.0 named only the conda file
            return {"conda": env}
        if isinstance(env, Mapping):
            return {str(k): str(v) for k, v in env.items() if isinstance(v, str)}
        return {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["flavors"] = {name: dict(conf) for name, conf in self.flavors.items()}
        optional: dict[str, Any] = {
            "signature": self.signature.to_dict() if self.signature is not None else None,
            "saved_input_example_info": (
                self.saved_input_example_info.to_dict() if self.saved_input_example_info else None
            ),
            "model_uuid": self.model_uuid,
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "utc_time_created": self.utc_time_created,
            "mlflow_version": self.mlflow_version,
            "modelyard_version": self.modelyard_version,
            "model_id": self.model_id,
            "metadata": dict(self.metadata) if self.metadata is not None else None,
            "model_size_bytes": self.model_size_bytes,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


def parse_mlmodel(text: str) -> ModelSpec:
    """Parse the text of an MLmodel file; InvalidParameter names the malformed field."""
    try:
        doc = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise InvalidParameter(f"MLmodel is not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping):
        raise InvalidParameter("MLmodel must be a YAML mapping with at least a 'flavors' field")
    signature = doc.get("signature")
    if signature is not None and not isinstance(signature, Mapping):
        raise InvalidParameter("MLmodel field 'signature' must be a mapping of inputs, outputs and params")
    return ModelSpec(
        flavors=_parse_flavors(doc.get("flavors")),
        signature=Signature.from_dict(signature) if signature is not None else None,
        saved_input_example_info=_parse_example_info(doc.get("saved_input_example_info")),
        model_uuid=_text(doc, "model_uuid"),
        run_id=_text(doc, "run_id"),
        artifact_path=_text(doc, "artifact_path"),
        utc_time_created=_text(doc, "utc_time_created"),
        mlflow_version=_text(doc, "mlflow_version"),
        modelyard_version=_text(doc, "modelyard_version"),
        model_id=_text(doc, "model_id"),
        metadata=_mapping(doc, "metadata"),
        model_size_bytes=_size(doc.get("model_size_bytes")),
        extra={str(k): v for k, v in doc.items() if k not in _KNOWN_KEYS},
    )


def dump_mlmodel(spec: ModelSpec) -> str:
    text: str = yaml.safe_dump(spec.to_dict(), default_flow_style=False, sort_keys=True)
    return text


def parse_requirements(text: str) -> tuple[str, ...]:
    """The requirement lines of a requirements.txt (comments, blanks and pip options dropped)."""
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith(("#", "-")))


def _parse_flavors(raw: Any) -> dict[str, Mapping[str, Any]]:
    if raw is None:
        raise InvalidParameter("MLmodel field 'flavors' is required: name at least one flavor")
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidParameter("MLmodel field 'flavors' must be a non-empty mapping of flavor name to config")
    flavors: dict[str, Mapping[str, Any]] = {}
    for name, conf in raw.items():
        if not isinstance(name, str) or not name:
            raise InvalidParameter(f"MLmodel field 'flavors' has a non-string flavor name {name!r}")
        if conf is not None and not isinstance(conf, Mapping):
            raise InvalidParameter(f"MLmodel field 'flavors.{name}' must be a mapping")
        flavors[name] = dict(conf or {})
    pyfunc = flavors.get("python_function")
    if pyfunc is not None:
        loader = pyfunc.get("loader_module")
        if not isinstance(loader, str) or not loader:
            raise InvalidParameter(
                "MLmodel field 'flavors.python_function.loader_module' must be a module name"
            )
    return flavors


def _parse_example_info(raw: Any) -> InputExampleInfo | None:
    where = "saved_input_example_info"
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidParameter(f"MLmodel field '{where}' must be a mapping")
    path, kind = raw.get("artifact_path"), raw.get("type")
    if not isinstance(path, str) or not path:
        raise InvalidParameter(f"MLmodel field '{where}.artifact_path' must name the example file")
    if kind not in EXAMPLE_TYPES:
        raise InvalidParameter(
            f"MLmodel field '{where}.type' is {kind!r}; expected one of {', '.join(EXAMPLE_TYPES)}"
        )
    orient, serving = raw.get("pandas_orient"), raw.get("serving_input_path")
    for key, value in (("pandas_orient", orient), ("serving_input_path", serving)):
        if value is not None and not isinstance(value, str):
            raise InvalidParameter(f"MLmodel field '{where}.{key}' must be a string")
    known = {"artifact_path", "type", "pandas_orient", "serving_input_path"}
    return InputExampleInfo(
        artifact_path=path,
        type=kind,
        pandas_orient=orient,
        serving_input_path=serving,
        extra={str(k): v for k, v in raw.items() if k not in known},
    )


def _text(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    # YAML turns unquoted timestamps and versions like 2.10 into datetimes and floats.
    if isinstance(value, dt.datetime | dt.date | int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidParameter(f"MLmodel field '{key}' must be a string, got {type(value).__name__}")
    return value


def _mapping(doc: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise InvalidParameter(f"MLmodel field '{key}' must be a mapping")
    return value


def _size(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParameter("MLmodel field 'model_size_bytes' must be a non-negative integer")
    return value
