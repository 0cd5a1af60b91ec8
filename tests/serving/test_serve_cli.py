"""The real ``modelyard serve-model`` process: serving, graceful drain on SIGTERM, and start-up
failures that exit non-zero with one clear line."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.serving import test_runtime_kit as kit

iris_dir = kit.iris_dir
sleeper_dir = kit.sleeper_dir  # fixtures shared by the serving tests

MODELYARD = Path(sys.executable).with_name("modelyard")
READY = re.compile(r"serving model '(?P<name>[^']+)' \((?P<flavor>[^)]+)\) on (?P<url>http://\S+): ready")


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(MODELYARD), "serve-model", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=10)  # drains and closes the pipes


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A server on a free port; yields it once it announces it is ready, with its URL."""
    process = start(*args, "--port", "0")
    try:
        line = process.stderr.readline() if process.stderr else ""
        match = READY.search(line)
        assert match, (
            f"no ready line: {line!r} {process.stderr.read() if process.poll() is not None and process.stderr else ''}"
        )
        yield process, match.group("url")
    finally:
        stop(process)


def test_serves_and_drains_in_flight_requests_on_sigterm(sleeper_dir: Path) -> None:
    with running("--model-uri", str(sleeper_dir), "--predict-mode", "thread", "--drain-seconds", "10") as (
        process,
        url,
    ):
        assert httpx.get(f"{url}/v2/health/ready").json() == {"ready": True}
        results: list[httpx.Response] = []

        def slow(seconds: float) -> None:
            results.append(httpx.post(f"{url}/invocations", json={"inputs": [[seconds]]}, timeout=30))

        threads = [threading.Thread(target=slow, args=(1.5,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # the three are in the model now
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(httpx.ConnectError):  # no new connections once draining
            httpx.get(f"{url}/v2/health/live", timeout=2)
        for thread in threads:
            thread.join(timeout=20)
        assert process.wait(timeout=20) == 0
    assert [r.status_code for r in results] == [200, 200, 200]
    assert all(r.json() == {"predictions": [1.5]} for r in results)


def test_missing_model_is_one_line_and_exit_2(tmp_path: Path) -> None:
    process = start("--model-uri", str(tmp_path / "nope"), "--port", "0")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines() == [
        f"error: cannot serve {tmp_path / 'nope'}: model directory {tmp_path / 'nope'} does not exist"
    ]


def test_port_in_use_is_one_line_and_exit_1(iris_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start("--model-uri", str(iris_dir), "--port", str(port))
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use (choose another with --port)"
    ]


def test_missing_flavor_library_names_the_extra(tmp_path: Path) -> None:
    fake = tmp_path / "site" / "lightgbm"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named lightgbm (hidden by the test)')\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  lightgbm:\n    data: model.lgb\n")
    process = start("--model-uri", str(model), "--port", "0", env={"PYTHONPATH": str(tmp_path / "site")})
    _, err = process.communicate(timeout=60)
    assert process.returncode == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "error: cannot serve model 'model': loading a model with the 'lightgbm' flavor needs lightgbm"
    )
    assert lines[0].endswith("install it with: pip install 'modelyard[lightgbm]'")


def test_two_workers_share_the_port_and_stop_together(iris_dir: Path) -> None:
    process = start("--model-uri", str(iris_dir), "--port", "0", "--workers", "2")
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.startswith("started 2 workers for model 'iris'")
        urls = {READY.search(process.stderr.readline()).group("url") for _ in range(2)}  # type: ignore[union-attr]
        assert len(urls) == 1
        url = urls.pop()
        pids = {
            httpx.post(f"{url}/invocations", json={"inputs": [[5.1, 3.5, 1.4, 0.2]]}).status_code
            for _ in range(10)
        }
        assert pids == {200}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        stop(process)


def test_a_bad_option_is_one_line_naming_it_and_exit_2() -> None:
    process = start("--model-uri", "anything", "--port", "70000")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1] == (
        "modelyard serve-model: error: argument --port: 70000 is not between 0 and 65535"
    )
    process = start("--model-uri", "anything", "--predict-mode", "sometimes")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "argument --predict-mode: invalid choice: 'sometimes'" in err


def test_loop_uvloop_where_uvloop_is_missing_is_a_usage_error(tmp_path: Path) -> None:
    # it used to fall back to asyncio's loop without a word, so the server ran on another loop
    # than the one asked for
    fake = tmp_path / "site" / "uvloop"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named uvloop (hidden by the test)')\n")
    process = start("--model-uri", "anything", "--loop", "uvloop", env={"PYTHONPATH": str(tmp_path / "site")})
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1] == (
        "modelyard serve-model: error: argument --loop: uvloop is not installed here "
        "(pip install uvloop), use --loop asyncio"
    )


def test_serve_refuses_uvloop_where_it_is_missing_before_loading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # embedding: serve() itself refuses, before it resolves the model (this one does not exist)
    from modelyard.serving import server

    monkeypatch.setattr(server, "_new_uvloop", None)  # what the import leaves where uvloop is missing
    with pytest.raises(ValueError, match="uvloop is not installed"):
        server.serve(server.ServeOptions(model_uri=str(tmp_path / "nothing"), loop="uvloop"))


def test_loop_uvloop_serves(iris_dir: Path) -> None:
    with running("--model-uri", str(iris_dir), "--loop", "uvloop") as (_, url):
        answer = httpx.post(f"{url}/invocations", json={"inputs": [[5.1, 3.5, 1.4, 0.2]]})
        assert answer.status_code == 200
        assert answer.json() == {"predictions": [0]}
