"""``save_model`` writes a model directory in the MLmodel format; ``log_model`` uploads one to a run.

A saved directory holds the flavor files, ``MLmodel``, ``requirements.txt`` (the installed versions
of what loading needs), ``python_env.yaml`` and, with an example, ``input_example.json`` and
``serving_input_example.json``. With an example and no signature the signature is inferred from
the example, and its outputs from what the saved model predicts for it (loaded back through the
serving side's loaders, so a model that cannot be served fails here, not at deployment); with
both, the example is checked against the signature.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from modelyard.client import ActiveRun, Client
from modelyard.client.active_run import RunClient
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.model_format import (
    MLMODEL_FILE,
    REQUIREMENTS_FILE,
    InputExampleInfo,
    ModelSpec,
    Schema,
    Signature,
    dump_mlmodel,
)
from modelyard.models import custom
from modelyard.models.signature import (
    check_example,
    encode_example,
    infer_output_schema,
    infer_signature,
    to_json,
)
from modelyard.models.writers import ENV_FILE, Written, env_file, native_writers
from modelyard.serving.flavors import load_model
from modelyard.version import __version__

log = logging.getLogger("modelyard.models")

HISTORY_TAG = "mlflow.log-model.history"  # MLflow's run tag listing the models logged in the run
_TAG_LIMIT = 8000


@dataclass(frozen=True)
class ModelInfo:
    """A model logged to a run: ``model_uri`` is ``runs:/<run_id>/<artifact_path>``."""

    run_id: str
    artifact_path: str
    spec: ModelSpec

    @property
    def model_uri(self) -> str:
        return f"runs:/{self.run_id}/{self.artifact_path}"


def save_model(
    model: Any,
    path: str | Path,
    *,
    signature: Signature | None = None,
    input_example: Any = None,
    code_dir: str | Path | None = None,
    extra_requirements: Sequence[str] = (),
    run_id: str | None = None,
    artifact_path: str | None = None,
) -> ModelSpec:
    """Write ``model`` into the new (or empty) directory ``path``; returns what MLmodel says.
    Nothing is left behind when it fails."""
    root = Path(path)
    if root.exists() and any(root.iterdir()):
        raise InvalidParameter(f"{root} is not empty; save a model into a new directory")
    example = None
    if input_example is not None:  # every check on the example before anything is written
        if signature is not None:
            check_example(input_example, signature)
        inputs = signature.inputs if signature is not None else infer_signature(input_example).inputs
        example = (inputs, *encode_example(input_example))
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _write_all(
            model,
            root,
            signature=signature,
            example=example,
            input_example=input_example,
            code_dir=code_dir,
            extra_requirements=extra_requirements,
            run_id=run_id,
            artifact_path=artifact_path,
        )
    except BaseException:
        if created:
            shutil.rmtree(root)
        else:
            _empty(root)
        raise


def _write_all(
    model: Any,
    root: Path,
    *,
    signature: Signature | None,
    example: tuple[Schema, Any, Any, InputExampleInfo] | None,
    input_example: Any,
    code_dir: str | Path | None,
    extra_requirements: Sequence[str],
    run_id: str | None,
    artifact_path: str | None,
) -> ModelSpec:
    """The files of the model directory; ``example`` is (input schema, example JSON, serving JSON,
    its MLmodel info)."""
    written = _write_flavors(model, root, code_dir=code_dir)
    example_info = None
    if example is not None:
        _, data, serving, example_info = example
        (root / example_info.artifact_path).write_text(to_json(data), encoding="utf-8")
        (root / str(example_info.serving_input_path)).write_text(json.dumps(serving), encoding="utf-8")
    requirements = list(dict.fromkeys([*written.requirements, *extra_requirements]))
    (root / REQUIREMENTS_FILE).write_text("\n".join(requirements) + "\n", encoding="utf-8")
    (root / ENV_FILE).write_text(env_file(REQUIREMENTS_FILE), encoding="utf-8")
    spec = ModelSpec(
        flavors=written.flavors,
        signature=signature,
        saved_input_example_info=example_info,
        model_uuid=uuid.uuid4().hex,
        run_id=run_id,
        artifact_path=artifact_path,
        utc_time_created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        modelyard_version=__version__,
        model_size_bytes=sum(f.stat().st_size for f in root.rglob("*") if f.is_file()),
        requirements=tuple(requirements),
    )
    _write_spec(root, spec)
    if example is not None and signature is None:
        spec = replace(spec, signature=_inferred_signature(root, example[0], input_example))
        _write_spec(root, spec)
    return spec


def log_model(
    model: Any,
    name: str,
    *,
    run: ActiveRun | str,
    client: Client | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    code_dir: str | Path | None = None,
    extra_requirements: Sequence[str] = (),
) -> ModelInfo:
    """Save ``model`` and upload it as the run's artifacts under ``<name>/``.

    ``run`` is an ``ActiveRun`` (its client is used) or a run id (with ``client``, else a ``Client()``
    for the default server). The run's ``mlflow.log-model.history`` tag records the model, as MLflow
    does, so the registry can find the models a run logged.
    """
    _check_name(name)
    runs: RunClient
    if isinstance(run, ActiveRun):
        runs, run_id = client or run.client, run.run_id
    else:
        runs, run_id = client or Client(), run
    with tempfile.TemporaryDirectory(prefix="modelyard-model-") as tmp:
        local = Path(tmp) / "model"
        spec = save_model(
            model,
            local,
            signature=signature,
            input_example=input_example,
            code_dir=code_dir,
            extra_requirements=extra_requirements,
            run_id=run_id,
            artifact_path=name,
        )
        runs.log_artifacts(run_id, local, artifact_path=name)
    _record_history(runs, run_id, spec)
    return ModelInfo(run_id=run_id, artifact_path=name, spec=spec)


def _write_flavors(model: Any, root: Path, *, code_dir: str | Path | None) -> Written:
    for writer in native_writers():
        if writer.accepts(model):
            return writer.write(model, model_dir=root)
    if custom.accepts(model):
        return custom.write_custom(model, model_dir=root, code_dir=code_dir)
    raise InvalidParameter(
        f"cannot log a {type(model).__module__}.{type(model).__qualname__}: supported are scikit-learn "
        "estimators, XGBoost and LightGBM models, ONNX ModelProto, torch modules, and any object "
        "with a predict(X, feature_names) method"
    )


def _write_spec(root: Path, spec: ModelSpec) -> None:
    (root / MLMODEL_FILE).write_text(dump_mlmodel(spec), encoding="utf-8")


def _empty(root: Path) -> None:
    for child in root.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _inferred_signature(root: Path, inputs: Schema, example: Any) -> Signature:
    try:
        output = load_model(root).predict(example)
        return Signature(inputs=inputs, outputs=infer_output_schema(output, inputs=inputs))
    except Exception as exc:  # the output schema is a convenience: keep the input schema regardless
        log.warning("model saved without an output schema: predicting the input example failed: %s", exc)
        return Signature(inputs=inputs)


def _check_name(name: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidParameter(f"model name {name!r} must be a relative path like 'model' or 'models/churn'")


def _record_history(client: RunClient, run_id: str, spec: ModelSpec) -> None:
    tags = client.get_run(run_id).data.tags
    try:
        history = json.loads(tags.get(HISTORY_TAG, "[]"))
    except json.JSONDecodeError:
        history = []
    entry = {
        "run_id": run_id,
        "artifact_path": spec.artifact_path,
        "utc_time_created": spec.utc_time_created,
        "model_uuid": spec.model_uuid,
        "flavors": {name: dict(conf) for name, conf in spec.flavors.items()},
    }
    history = [*(history if isinstance(history, list) else []), entry]
    while len(history) > 1 and len(json.dumps(history)) > _TAG_LIMIT:
        history.pop(0)  # the tag's length is capped; the newest models matter most
    client.set_tag(run_id, HISTORY_TAG, json.dumps(history))
