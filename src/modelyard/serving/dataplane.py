"""The transport-neutral dataplane: what each protocol's endpoint does, on parsed documents.

Every prediction takes the same four steps: the protocol's codec decodes the document into a
payload, the runtime's ``InputEnforcer`` checks it against the signature and converts it, the
runtime predicts, and the codec writes the answer. Methods take and return plain Python documents
(dicts) and raise ``ServingError``s; the HTTP layer owns bytes, content types and error shapes, so
another transport (gRPC) could reuse all of this.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from modelyard.domain.model_signature import ColSpec, TensorSpec
from modelyard.serving.codecs import mlflow, seldon, v2
from modelyard.serving.errors import BadRequest, ModelNotFound, ModelNotReady
from modelyard.serving.flavors import LoadedModel
from modelyard.serving.payload import Payload, Rows
from modelyard.serving.runtime import Method, ModelRuntime
from modelyard.serving.signature import Prepared
from modelyard.version import __version__

log = logging.getLogger("modelyard.serving")

SeldonMethod = Literal["predict", "predict_proba"]
_METHODS: tuple[Method, ...] = ("predict", "predict_proba")


class DataPlane:
    """``seldon_method``: what Seldon's predictions call (``predict_proba`` answers class
    probabilities named by the classes, as Seldon's prepackaged scikit-learn server does)."""

    def __init__(self, runtime: ModelRuntime, *, seldon_method: SeldonMethod = "predict") -> None:
        self.runtime = runtime
        self.seldon_method = seldon_method
        self._feedback_hook: Any = None
        self._feedback_hook_known = False
        self._outputs: list[str] | None = None
        self._ids = _RequestIds()

    def _model(self) -> LoadedModel:
        self.runtime.require_ready()
        return self.runtime.model

    # -- Seldon v1 --------------------------------------------------------------------------------

    async def seldon_predict(self, document: Any) -> dict[str, Any]:
        request = seldon.decode(document)
        model = self._model()
        method: Method = self.seldon_method
        if method == "predict_proba" and not model.capabilities.supports_proba:
            method = "predict"
        prepared = self.runtime.enforcer.prepare(request.payload)
        prediction = await self.runtime.predict(prepared, method=method)
        return seldon.encode(
            prediction.output,
            request,
            class_names=model.capabilities.class_names,
            tags=model.tags() if model.capabilities.custom_tags else {},
            metrics=prediction.custom_metrics,
            request_path={self.runtime.name: model.flavor},
        )

    async def seldon_feedback(self, document: Any) -> dict[str, Any]:
        if not isinstance(document, dict):
            raise BadRequest('feedback is a JSON object {"request", "response", "reward", "truth"}')
        reward = document.get("reward", 0.0)
        if not isinstance(reward, int | float) or isinstance(reward, bool):
            raise BadRequest(f"'reward' must be a number, got {reward!r}")
        model = self._model()
        request = seldon.decode(document["request"]) if isinstance(document.get("request"), dict) else None
        truth = seldon.decode(document["truth"]) if isinstance(document.get("truth"), dict) else None
        metrics = self.runtime.metrics
        metrics.feedback.inc()
        metrics.reward.inc(amount=float(reward))
        hook = self._feedback(model)
        if hook is not None and request is not None:
            features = self.runtime.enforcer.prepare(request.payload).value
            names = list(request.payload.names or []) if isinstance(request.payload, Rows) else []
            answer = hook(features, names, reward, truth.payload if truth is not None else None)
            if answer is not None:
                return seldon.encode(
                    answer,
                    request,
                    class_names=None,
                    tags={},
                    metrics=(),
                    request_path={self.runtime.name: model.flavor},
                )
        puid = request.puid if request is not None else seldon.new_puid()
        return {"meta": {"puid": puid, "tags": {}, "routing": {}, "requestPath": {}, "metrics": []}}

    def _feedback(self, model: LoadedModel) -> Any:
        # A Seldon-style user class may define send_feedback(features, feature_names, reward, truth);
        # the flavor does not declare it, so it is looked up once, here.
        if not self._feedback_hook_known:
            obj = getattr(model, "obj", None) if model.flavor == "modelyard_custom" else None
            hook = getattr(obj, "send_feedback", None)
            self._feedback_hook = hook if callable(hook) else None
            self._feedback_hook_known = True
        return self._feedback_hook

    def seldon_metadata(self) -> dict[str, Any]:
        model = self._model()
        signature = model.spec.signature
        inputs: list[dict[str, Any]] = []
        outputs: list[dict[str, Any]] = []
        if signature is not None:
            inputs = [_seldon_schema(signature.inputs.items)]
            if signature.outputs is not None:
                outputs = [_seldon_schema(signature.outputs.items)]
        return {
            "name": self.runtime.name,
            "versions": [self.runtime.version] if self.runtime.version else [],
            "platform": model.flavor,
            "inputs": inputs,
            "outputs": outputs,
            "custom": {},
        }

    def seldon_health(self) -> dict[str, Any]:
        model = self._model()
        answer = model.health_status() if model.capabilities.custom_health else {"status": "ok"}
        if isinstance(answer, dict):
            return {"jsonData": answer, "meta": {}}
        if isinstance(answer, str):
            return {"strData": answer, "meta": {}}
        return {"data": seldon.data_message(answer, form="ndarray", class_names=None), "meta": {}}

    # -- Open Inference Protocol (V2) -------------------------------------------------------------

    @staticmethod
    def v2_server_metadata() -> dict[str, Any]:
        return {"name": "modelyard", "version": __version__, "extensions": []}

    def v2_ready(self) -> tuple[int, dict[str, Any]]:
        ready = self.runtime.ready
        return (200 if ready else 503), {"ready": ready}

    def v2_model_ready(self, name: str, version: str | None) -> tuple[int, dict[str, Any]]:
        self._v2_model(name, version)
        ready = self.runtime.ready
        return (200 if ready else 503), {"name": name, "ready": ready}

    def v2_model_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        self._v2_model(name, version)
        model = self._model()
        signature = model.spec.signature
        outputs = v2.metadata_tensors(signature.outputs if signature else None, default_name="predict")
        if model.capabilities.supports_proba:
            width = len(model.capabilities.class_names or ()) or -1
            outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, width]})
        document: dict[str, Any] = {
            "name": name,
            "versions": [self.runtime.version] if self.runtime.version else [],
            "platform": model.flavor,
            "inputs": v2.metadata_tensors(signature.inputs if signature else None, default_name="input"),
            "outputs": outputs,
        }
        return document

    async def v2_infer(self, name: str, version: str | None, document: Any) -> dict[str, Any]:
        self._v2_model(name, version)
        request = v2.decode(document)
        model = self._model()
        if request.outputs:
            self._outputs = self._outputs or self._v2_output_names(model)
            v2.requested(request.outputs, self._outputs)
        prepared = self.runtime.enforcer.prepare(request.payload)
        params = self.runtime.enforcer.params(request.parameters)
        if request.outputs:
            names, produced = await self._v2_requested(request.outputs, prepared, params)
        else:  # the common case: predict's outputs, all of them
            prediction = await self.runtime.predict(prepared, params=params)
            produced = v2.named_outputs(prediction.output, default="predict")
            names = list(produced)
        response: dict[str, Any] = {"model_name": name}
        if self.runtime.version:
            response["model_version"] = self.runtime.version
        response["id"] = request.id if request.id is not None else self._ids.new()
        response["outputs"] = [v2.output_tensor(n, produced[n]) for n in names]
        return response

    async def _v2_requested(
        self, outputs: tuple[str, ...], prepared: Prepared, params: dict[str, Any] | None
    ) -> tuple[list[str], Mapping[str, Any]]:
        """The outputs a request named (``predict_proba`` among them), produced."""
        produced: dict[str, Any] = {}
        for method in _METHODS:
            if _wants(method, outputs):
                prediction = await self.runtime.predict(prepared, params=params, method=method)
                produced.update(v2.named_outputs(prediction.output, default=method))
        missing = [n for n in outputs if n not in produced]
        if missing:
            raise BadRequest(f"the model did not produce output(s) {missing}; it produced {list(produced)}")
        return list(outputs), produced

    def _v2_model(self, name: str, version: str | None) -> None:
        if name != self.runtime.name:
            raise ModelNotFound(f"Model {name} not found; this server serves '{self.runtime.name}'")
        if version is not None and version != self.runtime.version:
            serving = f"version {self.runtime.version}" if self.runtime.version else "no version number"
            raise ModelNotFound(f"Model {name} version {version} not found; this server serves {serving}")

    @staticmethod
    def _v2_output_names(model: LoadedModel) -> list[str]:
        names = ["predict"]
        signature = model.spec.signature
        if signature is not None and signature.outputs is not None:
            names += [str(i.name) for i in signature.outputs.items if i.name is not None]
        if model.capabilities.supports_proba:
            names.append("predict_proba")
        return names

    # -- MLflow scoring ---------------------------------------------------------------------------

    async def mlflow_invocations(self, document: Any = None, *, csv: bytes | None = None) -> dict[str, Any]:
        self._model()
        params: Mapping[str, Any] | None = None
        payload: Payload
        if csv is not None:
            payload = mlflow.decode_csv(csv, self.runtime.enforcer)
        else:
            payload, params = mlflow.decode_json(document)
        prepared = self.runtime.enforcer.prepare(payload)
        prediction = await self.runtime.predict(prepared, params=self.runtime.enforcer.params(params))
        return mlflow.encode(prediction.output)

    def mlflow_ping(self) -> None:
        if not self.runtime.ready:
            raise ModelNotReady(f"model '{self.runtime.name}' is not ready ({self.runtime.phase})")


_UUID_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)


class _RequestIds:
    """Ids for V2 answers to requests that named none, made on every such request: UUID-shaped
    (the version 4 layout), a random prefix drawn once and a counter in the last 48 bits. A random
    UUID per request costs about four times as much; these ids correlate, they are no secret. Each
    dataplane draws its own prefix (pre-forked workers build theirs after the fork)."""

    def __init__(self) -> None:
        x = f"{random.getrandbits(128) & _UUID_MASK | _UUID_V4:032x}"
        self._prefix = f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-"
        self._counter = itertools.count(random.getrandbits(47))

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF:012x}"


def _wants(method: str, outputs: tuple[str, ...]) -> bool:
    if method == "predict_proba":
        return "predict_proba" in outputs
    return any(name != "predict_proba" for name in outputs)


def _seldon_schema(items: Sequence[ColSpec] | Sequence[TensorSpec]) -> dict[str, Any]:
    names = [str(i.name) for i in items if i.name is not None]
    first = items[0] if items else None
    shape = list(first.shape[1:]) if isinstance(first, TensorSpec) else [len(items)]
    schema: dict[str, Any] = {"shape": shape}
    if names:
        schema["names"] = names
    return {"messagetype": "tensor", "schema": schema}
