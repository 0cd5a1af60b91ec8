"""The ``pytorch`` flavor: TorchScript preferred, ``torch.export`` programs and pickled modules too.

Files in ``model_data`` (MLflow's layout): ``model.pth`` (a TorchScript archive, or a pickled
``nn.Module``) or ``model.pt2`` (``torch.export.save``). A TorchScript archive is loaded with
``torch.jit.load``; anything else falls back to the (pickle-based) ``torch.load``. (torch 2.13 deprecates TorchScript in favour of ``torch.export``; both load here,
and the deprecation warning is silenced where it is a known, chosen path.) Inputs are
converted to tensors of the module's floating dtype; predictions run under ``torch.inference_mode``.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelyard.domain.model_format import ModelSpec
from modelyard.serving.flavors.base import Capabilities, FlavorLoader, LoadedModel, ModelLoadError
from modelyard.serving.flavors.inputs import as_array


class TorchModel(LoadedModel):
    def __init__(self, module: Any, torch: Any, *, spec: ModelSpec) -> None:
        self.module = module
        self._torch = torch
        first = next(iter(module.parameters()), None)
        # Float inputs follow the weights' dtype (numpy's float64 into a float32 Linear would fail).
        self._float_dtype = first.dtype if first is not None and first.is_floating_point() else None
        super().__init__(flavor="pytorch", spec=spec, capabilities=Capabilities())

    def predict(self, inputs: Any, *, params: Mapping[str, Any] | None = None) -> Any:
        torch = self._torch
        with torch.inference_mode():
            if isinstance(inputs, Mapping):
                out = self.module(**{k: self._tensor(v) for k, v in inputs.items()})
            else:
                out = self.module(self._tensor(inputs))
        return _to_numpy(out, torch)

    def _tensor(self, value: Any) -> Any:
        array = as_array(value)
        if not array.flags.writeable:  # read-only views (pandas copy-on-write) cannot back a tensor
            array = array.copy()
        tensor = self._torch.from_numpy(array) if array.dtype.kind in "biuf" else self._torch.as_tensor(array)
        if self._float_dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(self._float_dtype)
        return tensor


def _to_numpy(out: Any, torch: Any) -> Any:
    if isinstance(out, tuple | list):
        return [_to_numpy(o, torch) for o in out]
    if isinstance(out, Mapping):
        return {k: _to_numpy(v, torch) for k, v in out.items()}
    return out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out


class PyTorchLoader(FlavorLoader):
    flavor = "pytorch"
    extra = "pytorch"
    preference = 20

    def load(self, *, model_dir: Path, spec: ModelSpec) -> LoadedModel:
        torch = self.library("torch")
        conf = self.conf(spec)
        data = self.model_file(model_dir, conf, "model_data")
        path = _model_path(data)
        try:
            if path.suffix == ".pt2":
                module = torch.export.load(str(path)).module()
            elif _is_torchscript(path):
                with torchscript_deprecation_silenced():
                    module = torch.jit.load(str(path), map_location="cpu")
            else:  # a pickled nn.Module (MLflow's default before pt2)
                module = torch.load(str(path), map_location="cpu", weights_only=False)
        except (RuntimeError, OSError, ValueError, AttributeError) as exc:
            raise ModelLoadError(f"torch could not load {path}: {exc}") from exc
        if path.suffix != ".pt2":  # exported programs refuse eval(); they are inference graphs already
            module.eval()
        return TorchModel(module, torch, spec=spec)


@contextmanager
def torchscript_deprecation_silenced() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit\.\w+` is deprecated", category=DeprecationWarning
        )
        yield


def _model_path(data: Path) -> Path:
    if data.is_file():
        return data
    for name in ("model.pth", "model.pt2", "model.pt"):
        if (data / name).is_file():
            return data / name
    raise ModelLoadError(f"no model.pth or model.pt2 in the pytorch model data directory {data}")


def _is_torchscript(path: Path) -> bool:
    # A TorchScript archive is a zip holding a code/ directory next to its data.pkl.
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name or name.startswith("code/") for name in archive.namelist())
