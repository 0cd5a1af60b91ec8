"""The model runtime: one model loaded once, its readiness, and every predict call made on it.

``ModelRuntime(model_dir, name=...)`` is cheap to build; ``load()`` (blocking, run it off the event
loop) reads the MLmodel, loads the model through the flavor-loader registry, builds the signature
enforcer, and runs a warm-up prediction (the saved input example, else a row made from the
signature); only then is the runtime *ready*. A runtime is *live* as long as the process is: a
load failure is recorded in ``error`` and reported by whoever runs the server.

``predict`` is the one way in for the protocols. It runs the model's predict either inline on the
event loop or on a worker thread, per ``RuntimeOptions.predict_mode``. Inline is faster (no thread
hand-off, no GIL hand-over: measured 5-15% more requests/s for a sub-millisecond scikit-learn
predict, bench/serving/quick_compare.py) but blocks the loop while the model runs, so ``auto`` runs
inline only while the median of its last five predict times stays under ``inline_threshold``, and
moves slow models to threads, where health checks, metrics and the drain keep answering. On a
thread the wall time includes waits for the GIL, so a fast model could look slow there forever:
when its thread CPU time says it is fast, ``auto`` tries it inline after ``_PROBE_EVERY`` thread calls
and lets that measurement decide. A model that releases the GIL and computes on threads of its own
(ONNX Runtime, PyTorch) also has a low thread CPU time while being slow: each probe that finds it
slow doubles the wait before the next (up to ``_PROBE_MAX`` calls), so it blocks the loop once in
hundreds of calls, not once in 16. With ``max_batch_size > 1``, predicts go through an ``AdaptiveBatcher``
that merges concurrent requests with the same input structure.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modelyard.domain.errors import DomainError
from modelyard.serving.batching import AdaptiveBatcher
from modelyard.serving.errors import ModelFailed, ModelNotReady, ModelRejectedInput, ServingError
from modelyard.serving.flavors import FlavorRegistry, LoadedModel, default_registry, read_model_spec
from modelyard.serving.metrics import Metrics
from modelyard.serving.packages import missing
from modelyard.serving.signature import InputEnforcer, Prepared
from modelyard.serving.warmup import warmup_payload

log = logging.getLogger("modelyard.serving")

PredictMode = Literal["auto", "inline", "thread"]
Method = Literal["predict", "predict_proba"]
_CUSTOM_FLAVOR = "modelyard_custom"
_PROBE_EVERY = 16
_PROBE_MAX = 1024
_INLINE, _THREAD = ("inline",), ("thread",)


@dataclass(frozen=True)
class RuntimeOptions:
    """``max_batch_size`` (rows per merged predict call; 0 or 1: no batching) and ``max_batch_wait``
    (seconds a batch may wait for more requests); ``predict_mode`` and ``inline_threshold`` (seconds)
    choose where predict runs; ``threads``: worker threads for predict; ``warmup``: run the warm-up
    prediction before reporting ready."""

    max_batch_size: int = 0
    max_batch_wait: float = 0.005
    predict_mode: PredictMode = "auto"
    inline_threshold: float = 0.002
    threads: int = 4
    warmup: bool = True


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer for one request, with the custom metrics the model reported for the call."""

    output: Any
    custom_metrics: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, slots=True)
class _Job:
    prepared: Prepared
    params: Mapping[str, Any] | None
    method: Method


@dataclass
class _State:
    phase: Literal["created", "loading", "ready", "failed"] = "created"
    error: str | None = None
    load_seconds: float | None = None


class ModelRuntime:
    def __init__(
        self,
        model_dir: str | Path,
        *,
        name: str,
        version: str | None = None,
        options: RuntimeOptions | None = None,
        registry: FlavorRegistry | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.name = name
        self.version = version
        self.options = options or RuntimeOptions()
        self.metrics = metrics or Metrics()
        self._registry = registry
        self._state = _State()
        self._model: LoadedModel | None = None
        self._enforcer: InputEnforcer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._batcher: AdaptiveBatcher[_Job, Prediction] | None = None
        self._recent: deque[float] = deque(maxlen=5)  # the last inline predict times (auto mode)
        self._until_probe = _PROBE_EVERY  # thread calls before auto mode tries one inline
        self._probe_every = _PROBE_EVERY  # doubled by each probe that finds the model slow
        self._probe = False
        self._outstanding = 0  # requests inside the batcher (queued or predicting)
        self.in_flight: Callable[[], float] = self.metrics.in_flight.get

    # -- state --------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._state.phase == "ready"

    @property
    def phase(self) -> str:
        return self._state.phase

    @property
    def error(self) -> str | None:
        return self._state.error

    @property
    def load_seconds(self) -> float | None:
        return self._state.load_seconds

    @property
    def model(self) -> LoadedModel:
        if self._model is None:
            raise ModelNotReady(f"model '{self.name}' is not loaded yet ({self._state.phase})")
        return self._model

    @property
    def enforcer(self) -> InputEnforcer:
        if self._enforcer is None:
            raise ModelNotReady(f"model '{self.name}' is not loaded yet ({self._state.phase})")
        return self._enforcer

    def require_ready(self) -> None:
        if self._state.phase != "ready":
            what = "failed to load" if self._state.phase == "failed" else "is still loading"
            raise ModelNotReady(f"model '{self.name}' {what}; it cannot answer predictions yet")

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model and warm it up (blocking). Raises what the loader raised, after recording it."""
        started = time.perf_counter()
        self._state.phase = "loading"
        try:
            spec = read_model_spec(self.model_dir)
            model = (self._registry or default_registry()).load(self.model_dir)
            capabilities = model.capabilities
            self._enforcer = InputEnforcer(
                spec.signature,
                feature_names=capabilities.feature_names,
                wants_frame=model.flavor == _CUSTOM_FLAVOR,
            )
            self._model = model
            if self.options.warmup:
                self._warm_up()
        except BaseException as exc:
            self._state.phase, self._state.error = "failed", _describe(exc)
            raise
        self._state.load_seconds = time.perf_counter() - started
        self.metrics.load_seconds.set(self._state.load_seconds)
        self.metrics.info.set(1, (self.name, self.version or "", model.flavor))
        self.metrics.ready.set(1)
        self._state.phase = "ready"

    def _warm_up(self) -> None:
        payload = warmup_payload(self.model_dir, self.model.spec, self.enforcer)
        if payload is None:
            log.info("no input example and no signature: model '%s' is ready without a warm-up", self.name)
            return
        try:
            prepared = self.enforcer.prepare(payload)
        except ServingError as exc:
            raise ServingError(
                f"the model's input example does not fit its signature: {exc.message}"
            ) from exc
        seconds = self._predict_sync(prepared.value, None, "predict")[2]
        if seconds >= self.options.inline_threshold:  # a first call pays for lazy set-ups: time a second
            seconds = self._predict_sync(prepared.value, None, "predict")[2]
        self._recent.append(seconds)
        log.debug("warm-up prediction took %.2f ms", seconds * 1000)

    # -- running --------------------------------------------------------------------------------

    def start(self) -> None:
        """Create what lives in the event loop (the batcher) and the predict threads; call in the loop."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.options.threads, thread_name_prefix="predict"
            )
        if self.options.max_batch_size > 1 and self._batcher is None:
            self._batcher = AdaptiveBatcher(
                self._run_batch,
                max_batch_size=self.options.max_batch_size,
                max_wait=self.options.max_batch_wait,
                size_of=lambda job: job.prepared.rows,
                key_of=_merge_key,
                pending=self._pending,
            )
            self._batcher.start()

    async def aclose(self) -> None:
        if self._batcher is not None:
            await self._batcher.aclose()
            self._batcher = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _pending(self) -> int:
        return int(self.in_flight()) - self._outstanding

    async def predict(
        self, prepared: Prepared, *, params: Mapping[str, Any] | None = None, method: Method = "predict"
    ) -> Prediction:
        """Predict for one request's prepared input (from ``enforcer.prepare``)."""
        self.require_ready()
        if self._batcher is not None and _merge_key(job := _Job(prepared, params, method)) is not None:
            self._outstanding += 1
            try:
                return await self._batcher.submit(job)
            finally:
                self._outstanding -= 1
        output, custom, seconds = await self._run(prepared.value, params, method)
        self.metrics.observe_predict(rows=prepared.rows, requests=1, seconds=seconds)
        return Prediction(output, custom)

    async def _run(
        self, value: Any, params: Mapping[str, Any] | None, method: Method
    ) -> tuple[Any, Any, float]:
        if self._inline():
            probe, self._probe = self._probe, False
            self.metrics.predict_calls.inc(_INLINE)
            output, custom, seconds = self._predict_sync(value, params, method)
            if probe:  # a probe's measurement decides alone
                self._recent.clear()
                slow = seconds >= self.options.inline_threshold
                self._probe_every = min(self._probe_every * 2, _PROBE_MAX) if slow else _PROBE_EVERY
            self._recent.append(seconds)
        else:
            loop = asyncio.get_running_loop()
            self.metrics.predict_calls.inc(_THREAD)
            output, custom, seconds, cpu = await loop.run_in_executor(
                self._executor, self._predict_on_thread, value, params, method
            )
            # On a thread, the wall time includes waits for the GIL held by the event loop, so it
            # says little about the cost inline. When the thread's own CPU time says the model is
            # fast, try it inline now and then, and let that measurement decide.
            self._until_probe -= 1
            if self._until_probe <= 0:
                self._until_probe = self._probe_every
                self._probe = cpu < self.options.inline_threshold
        if custom:
            self.metrics.record_custom(custom)
        return output, custom, seconds

    def _inline(self) -> bool:
        mode = self.options.predict_mode
        if mode != "auto":
            return mode == "inline"
        return self._probe or typical(self._recent) < self.options.inline_threshold

    def _predict_sync(
        self, value: Any, params: Mapping[str, Any] | None, method: Method
    ) -> tuple[Any, Sequence[Mapping[str, Any]], float]:
        """(output, custom metrics, wall seconds)."""
        model = self.model
        started = time.perf_counter()
        try:
            if method == "predict_proba":
                output = model.predict_proba(value)
            else:
                output = model.predict(value, params=params if model.capabilities.supports_params else None)
            custom = model.metrics() if model.capabilities.custom_metrics else []
        except ServingError:
            raise
        except (ValueError, TypeError) as exc:
            raise ModelRejectedInput(f"the model refused the input: {_describe(exc)}") from exc
        except ModuleNotFoundError as exc:  # a library the model reaches for only when it predicts
            raise ModelFailed(_describe(exc)) from exc
        except Exception as exc:  # the user's model may raise anything; the server stays up
            log.exception("model '%s' failed in %s", self.name, method)
            raise ModelFailed(f"the model failed while predicting: {_describe(exc)}") from exc
        return output, custom, time.perf_counter() - started

    def _predict_on_thread(
        self, value: Any, params: Mapping[str, Any] | None, method: Method
    ) -> tuple[Any, Sequence[Mapping[str, Any]], float, float]:
        """``_predict_sync`` plus the CPU seconds this thread spent (the wall time minus GIL waits)."""
        cpu = time.thread_time()
        output, custom, seconds = self._predict_sync(value, params, method)
        return output, custom, seconds, time.thread_time() - cpu

    async def _run_batch(self, jobs: Sequence[_Job]) -> list[Prediction]:
        first = jobs[0]
        if len(jobs) == 1:
            output, custom, seconds = await self._run(first.prepared.value, first.params, first.method)
            self.metrics.observe_predict(rows=first.prepared.rows, requests=1, seconds=seconds)
            return [Prediction(output, custom)]
        merged = _merge([job.prepared.value for job in jobs])
        output, custom, seconds = await self._run(merged, first.params, first.method)
        rows = [job.prepared.rows for job in jobs]
        self.metrics.observe_predict(rows=sum(rows), requests=len(jobs), seconds=seconds)
        return [Prediction(part, custom) for part in _split(output, rows)]


def typical(seconds: Sequence[float]) -> float:
    """The median of the last few predict times: one or two slow calls (the machine was busy) do
    not move it, three do. (With an even count, the slower middle one: erring towards threads.)"""
    if not seconds:
        return 0.0
    ordered = sorted(seconds)
    return ordered[len(ordered) // 2]


# -- merging and splitting batches ---------------------------------------------------------------------


def _merge_key(job: _Job) -> Hashable | None:
    """Jobs with equal keys can share a predict call; None: this job is never merged."""
    value = job.prepared.value
    params = tuple(sorted((k, repr(v)) for k, v in job.params.items())) if job.params else ()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return None
        return (job.method, params, "array", value.dtype.str, value.shape[1:])
    if isinstance(value, Mapping):
        if not all(isinstance(v, np.ndarray) and v.ndim > 0 for v in value.values()):
            return None
        shapes = tuple((k, v.dtype.str, v.shape[1:]) for k, v in value.items())
        return (job.method, params, "tensors", shapes)
    columns = getattr(value, "columns", None)
    dtypes = getattr(value, "dtypes", None)
    if columns is not None and dtypes is not None:  # a pandas DataFrame
        return (job.method, params, "frame", tuple(map(str, columns)), tuple(map(str, dtypes)))
    return None


def _merge(values: Sequence[Any]) -> Any:
    first = values[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(values)
    if isinstance(first, Mapping):
        return {k: np.concatenate([v[k] for v in values]) for k in first}
    import pandas as pd  # frames only reach here when pandas made them

    return pd.concat(values, ignore_index=True)


def _split(output: Any, rows: Sequence[int]) -> list[Any]:
    total = sum(rows)
    bounds = np.cumsum([0, *rows])
    parts = list(itertools.pairwise(int(b) for b in bounds))
    if isinstance(output, Mapping):
        columns = {k: np.asarray(v) for k, v in output.items()}
        for k, v in columns.items():
            _check_rows(v, total, what=f"output '{k}'")
        return [{k: v[a:b] for k, v in columns.items()} for a, b in parts]
    iloc = getattr(output, "iloc", None)
    if iloc is not None:  # pandas DataFrame or Series
        _check_rows(output, total, what="output")
        return [output.iloc[a:b].reset_index(drop=True) for a, b in parts]
    array = np.asarray(output)
    _check_rows(array, total, what="output")
    return [array[a:b] for a, b in parts]


def _check_rows(value: Any, total: int, *, what: str) -> None:
    if getattr(value, "ndim", 1) == 0 or len(value) != total:
        raise ModelFailed(
            f"the model's {what} has {len(value) if getattr(value, 'ndim', 1) else 0} rows for {total} input "
            "rows, so a merged batch cannot be split back; serve this model without batching"
        )


def _describe(exc: BaseException) -> str:
    """Domain errors (ours, the loaders') are written for people already; name the type of others."""
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, ModuleNotFoundError) and exc.name:  # e.g. pandas, for a model fitted on a frame
        return missing(exc.name)
    return f"{type(exc).__name__}: {exc}"
