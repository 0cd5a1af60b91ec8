"""The ``onnx`` flavor: an ONNX graph run by onnxruntime on the CPU (or the providers the MLmodel
lists that this onnxruntime build has).

Inputs are fed by the graph's input names and cast to each input's element type; a DataFrame feeds
one 2-D input, or one input per column when the graph's inputs are named like the columns.
``predict`` returns the first output; ``predict_proba`` the probabilities output of a converted
classifier (skl2onnx names it ``probabilities`` or ``output_probability``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelyard.domain.model_format import ModelSpec
from modelyard.serving.flavors.base import Capabilities, FlavorLoader, LoadedModel, ModelLoadError
from modelyard.serving.flavors.inputs import as_array, is_dataframe

_ONNX_TO_NUMPY = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}
_PROBA_OUTPUTS = ("probabilities", "output_probability")


class OnnxModel(LoadedModel):
    def __init__(self, session: Any, *, spec: ModelSpec) -> None:
        self.session = session
        self.inputs = [(i.name, _ONNX_TO_NUMPY.get(i.type)) for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        self._proba = next((n for n in self.output_names if n in _PROBA_OUTPUTS), None)
        super().__init__(
            flavor="onnx",
            spec=spec,
            capabilities=Capabilities(
                supports_proba=self._proba is not None,
                feature_names=tuple(n for n, _ in self.inputs) if len(self.inputs) > 1 else None,
            ),
        )

    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.session.run(self.output_names[:1], self._feed(inputs))[0]

    def _predict_proba(self, inputs: Any) -> Any:
        import numpy as np

        proba = self.session.run([self._proba], self._feed(inputs))[0]
        if isinstance(proba, list):  # a ZipMap output: one {class: probability} dict per row
            return np.array([[row[k] for k in sorted(row)] for row in proba])
        return proba

    def _feed(self, inputs: Any) -> dict[str, Any]:
        if isinstance(inputs, Mapping):
            return {name: as_array(inputs[name], dtype) for name, dtype in self.inputs if name in inputs}
        if len(self.inputs) == 1:
            name, dtype = self.inputs[0]
            return {name: as_array(inputs, dtype)}
        if is_dataframe(inputs):  # one graph input per column (skl2onnx with named columns)
            return {name: inputs[name].to_numpy(dtype=dtype).reshape(-1, 1) for name, dtype in self.inputs}
        names = [name for name, _ in self.inputs]
        raise ValueError(f"the ONNX model takes named inputs {names}; send a mapping or a DataFrame")


class OnnxLoader(FlavorLoader):
    flavor = "onnx"
    extra = "onnx"
    preference = 20

    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        ort = self.library("onnxruntime")
        conf = self.conf(spec)
        path = self.model_file(model_dir, conf, "data")
        available = set(ort.get_available_providers())
        wanted = [p for p in conf.get("providers") or () if p in available] or ["CPUExecutionProvider"]
        try:
            session = ort.InferenceSession(str(path), providers=wanted)
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            raise ModelLoadError(f"onnxruntime could not load {path}: {exc}") from exc
        return OnnxModel(session, spec=spec)
