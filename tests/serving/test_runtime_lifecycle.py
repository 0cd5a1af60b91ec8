"""The runtime's life: ready only after a warm-up prediction, failures named, metrics that move with
the traffic, and where predict runs (inline for fast models, on threads for slow ones)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import httpx
import pytest

from modelyard.serving.dataplane import DataPlane
from modelyard.serving.errors import ModelFailed, ServingError
from modelyard.serving.flavors import MissingFlavorLibrary
from modelyard.serving.payload import Rows
from modelyard.serving.rest import ServingApp
from modelyard.serving.runtime import ModelRuntime, RuntimeOptions, typical
from tests.serving import test_runtime_kit as kit
from tests.serving.test_runtime_kit import custom_model, serving

iris_dir = kit.iris_dir
sleeper_dir = kit.sleeper_dir  # fixtures shared by the serving tests

COUNTING = """
import numpy as np


class Counting:
    calls = 0

    def predict(self, X, feature_names):
        type(self).calls += 1
        if float(np.asarray(X, dtype=float)[0][0]) == 13:
            raise RuntimeError("unlucky")
        return np.asarray(X, dtype=float)[:, 0]
"""
SIGNATURE = {"inputs": [{"type": "double", "name": "x"}, {"type": "double", "name": "y"}]}


def test_ready_only_after_the_warm_up_prediction(tmp_path: Path) -> None:
    example = {"dataframe_split": {"columns": ["x", "y"], "data": [[1.0, 2.0]]}}
    model_dir = custom_model(tmp_path / "m", COUNTING, "Counting", signature=SIGNATURE, example=example)
    runtime = ModelRuntime(model_dir, name="m")
    assert (runtime.phase, runtime.ready) == ("created", False)
    runtime.load()
    assert (runtime.phase, runtime.ready) == ("ready", True)
    assert type(runtime.model.obj).calls in (1, 2)  # type: ignore[attr-defined]  # the warm-up ran (timed twice when slow)
    assert runtime.load_seconds is not None and runtime.load_seconds > 0


def test_without_an_example_the_signature_makes_the_warm_up_row(tmp_path: Path) -> None:
    model_dir = custom_model(tmp_path / "m", COUNTING, "Counting", signature=SIGNATURE)
    runtime = ModelRuntime(model_dir, name="m")
    runtime.load()
    assert type(runtime.model.obj).calls in (1, 2)  # type: ignore[attr-defined]


def test_a_failing_warm_up_fails_the_load(tmp_path: Path) -> None:
    example = {"dataframe_split": {"columns": ["x", "y"], "data": [[13.0, 2.0]]}}
    model_dir = custom_model(tmp_path / "m", COUNTING, "Counting", signature=SIGNATURE, example=example)
    runtime = ModelRuntime(model_dir, name="m")
    with pytest.raises(ModelFailed, match="RuntimeError: unlucky"):
        runtime.load()
    assert (
        runtime.phase == "failed"
        and runtime.error == "the model failed while predicting: RuntimeError: unlucky"
    )


def test_an_example_that_does_not_fit_the_signature(tmp_path: Path) -> None:
    example = {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}
    model_dir = custom_model(tmp_path / "m", COUNTING, "Counting", signature=SIGNATURE, example=example)
    with pytest.raises(
        ServingError, match=r"input example does not fit its signature: .*missing columns \['y'\]"
    ):
        ModelRuntime(model_dir, name="m").load()


def test_a_missing_flavor_library_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "MLmodel").write_text("flavors:\n  lightgbm:\n    data: model.lgb\n")
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # "not installed"
    runtime = ModelRuntime(tmp_path / "m", name="m")
    with pytest.raises(MissingFlavorLibrary, match=r"pip install 'modelyard\[lightgbm\]'"):
        runtime.load()
    assert runtime.phase == "failed" and "modelyard[lightgbm]" in (runtime.error or "")


def test_a_library_whose_own_dependency_is_missing_names_the_dependency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "MLmodel").write_text("flavors:\n  lightgbm:\n    data: model.lgb\n")
    fake = tmp_path / "site" / "lightgbm"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("import narwhals_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "lightgbm", raising=False)
    runtime = ModelRuntime(tmp_path / "m", name="m")
    with pytest.raises(MissingFlavorLibrary) as failed:
        runtime.load()
    assert failed.value.message == (
        "loading a model with the 'lightgbm' flavor needs lightgbm, which cannot be imported here: lightgbm "
        "needs the Python package 'narwhals_that_is_not_installed', which is not installed in the Python "
        f"environment of {sys.executable}; install it with: {sys.executable} -m pip install "
        "narwhals_that_is_not_installed"
    )


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_move_with_the_traffic(iris_dir: Path) -> None:
    with serving(iris_dir, name="iris", version="2") as (client, _):
        before = client.get("/metrics")
        assert before.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        ok = 'modelyard_serving_requests_total{protocol="mlflow",endpoint="predict",code="200"}'
        bad = 'modelyard_serving_requests_total{protocol="v2",endpoint="predict",code="400"}'
        count = 'modelyard_serving_request_duration_seconds_count{protocol="mlflow",endpoint="predict"}'
        rows = "modelyard_serving_batch_rows_sum"
        for _ in range(3):
            assert client.post("/invocations", json={"inputs": [[5.1, 3.5, 1.4, 0.2]] * 2}).status_code == 200
        client.post("/v2/models/iris/infer", json={"inputs": []})
        after = client.get("/metrics").text
    assert _value(after, ok) - _value(before.text, ok) == 3
    assert _value(after, bad) - _value(before.text, bad) == 1
    assert _value(after, count) - _value(before.text, count) == 3
    assert _value(after, rows) - _value(before.text, rows) == 6
    assert _value(after, "modelyard_serving_model_ready") == 1
    assert _value(after, "modelyard_serving_model_load_seconds") > 0
    assert _value(after, 'modelyard_serving_model_info{model="iris",version="2",flavor="sklearn"}') == 1
    assert _value(after, "modelyard_serving_requests_in_flight") == 1  # the /metrics request itself
    assert "# TYPE modelyard_serving_request_duration_seconds histogram" in after


def test_auto_mode_runs_a_slow_model_on_threads_and_health_keeps_answering(sleeper_dir: Path) -> None:
    async def main() -> tuple[bool, bool]:
        runtime = ModelRuntime(sleeper_dir, name="s", options=RuntimeOptions(inline_threshold=0.002))
        runtime.load()
        app = ServingApp(DataPlane(runtime))
        runtime.start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
            await client.post("/invocations", json={"inputs": [[0.05]]})  # teaches the runtime it is slow
            inline = runtime._inline()
            slow = asyncio.ensure_future(client.post("/invocations", json={"inputs": [[0.5]]}))
            await asyncio.sleep(0.05)
            live = await client.get("/v2/health/live")
            sleeping = not slow.done()  # the health check did not wait for the model
            assert live.status_code == 200 and (await slow).status_code == 200
        await runtime.aclose()
        return inline, sleeping

    assert asyncio.run(main()) == (False, True)


def test_auto_mode_brings_a_fast_model_back_inline(iris_dir: Path) -> None:
    async def main() -> tuple[bool, bool]:
        # a threshold far above any real predict time, so a loaded machine cannot change the answer
        runtime = ModelRuntime(iris_dir, name="iris", options=RuntimeOptions(inline_threshold=0.5))
        runtime.load()
        runtime.start()
        runtime._recent.extend(
            [1.0, 1.0, 1.0]
        )  # as if it had looked slow (e.g. timed while waiting for the GIL)
        before = runtime._inline()
        prepared = runtime.enforcer.prepare(Rows([[5.1, 3.5, 1.4, 0.2]]))
        for _ in range(200):
            await runtime.predict(prepared)
        after = runtime._inline()
        await runtime.aclose()
        return before, after

    assert asyncio.run(main()) == (False, True)


def test_a_slow_model_that_releases_the_gil_is_probed_ever_more_rarely(sleeper_dir: Path) -> None:
    # sleeping costs no CPU time, like a model computing on threads of its own (ONNX Runtime): on a
    # thread its CPU time says "fast" and auto mode tries it inline; each probe that finds it slow
    # doubles the wait before the next (16, 32, 64, 128, ... thread calls)
    async def main() -> tuple[float, float]:
        runtime = ModelRuntime(sleeper_dir, name="s", options=RuntimeOptions(inline_threshold=0.002))
        runtime.load()
        runtime.start()
        prepared = runtime.enforcer.prepare(Rows([[0.004]]))
        calls = runtime.metrics.predict_calls
        before = calls.get(("inline",))
        for _ in range(250):
            await runtime.predict(prepared)
        await runtime.aclose()
        return calls.get(("inline",)) - before, calls.get(("thread",))

    inline, threaded = asyncio.run(main())
    # the first call (if the warm-up looked fast) and probes after 16, 32, 64 and 128 thread calls;
    # probing every 16 calls would have run 15 of them inline
    assert inline <= 5 and inline + threaded == 250


def test_one_slow_inline_call_does_not_send_a_fast_model_to_threads() -> None:
    threshold = RuntimeOptions().inline_threshold
    fast, slow = 0.001, 0.050
    assert typical([fast, fast, slow, fast, slow]) < threshold  # hiccups: the machine was busy
    assert typical([fast, fast, slow, slow, slow]) > threshold  # the model really got slower
    assert typical([slow]) > threshold  # a warm-up or a probe decides alone
    assert typical([fast, slow]) > threshold  # with two, the slower one
