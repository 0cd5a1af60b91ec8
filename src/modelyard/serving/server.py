"""The ``serve-model`` process: resolve the model, bind the port, serve, drain on SIGTERM, exit.

Order matters for clear failures: the model URI is resolved first (a missing model or an
unreachable registry fails before anything listens), then the port is bound (a port in use fails
with one line), then the HTTP server (``http_server.py``; ``--http uvicorn`` for uvicorn) serves
the app on that socket while the model loads on a background thread (liveness answers at once,
readiness after the warm-up). A load failure (a missing flavor library names its pip extra) stops
the server: one line on stderr, exit code 3.

SIGTERM (or Ctrl-C) stops accepting connections, lets in-flight requests finish for at most
``drain_seconds``, and exits 0. (uvicorn re-raises the signal once it has shut down so that the
default handler runs; with it, a no-op handler installed here absorbs that, so the exit code stays 0.)

``workers > 1`` pre-forks: the parent binds the socket once, forks the workers before any model
library is imported, and each worker loads the model and accepts on the shared socket. The parent
forwards SIGTERM, restarts a worker that crashes, and stops everything if a worker cannot load the
model (printing that worker's message once). Metrics are per worker, as with any pre-fork server.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Literal

try:
    from uvloop import new_event_loop as _new_uvloop
except ImportError:  # uvicorn[standard] leaves uvloop out on Windows
    _new_uvloop = None  # type: ignore[assignment]

from modelyard.domain.errors import DomainError
from modelyard.serving.dataplane import DataPlane, SeldonMethod
from modelyard.serving.http_server import HttpServer
from modelyard.serving.metrics import Metrics
from modelyard.serving.rest import DEFAULT_MAX_BODY, ServingApp
from modelyard.serving.runtime import ModelRuntime, RuntimeOptions
from modelyard.serving.source import ModelSource, ModelSourceError, resolve

log = logging.getLogger("modelyard.serving")

EXIT_OK = 0
EXIT_BIND = 1
EXIT_SOURCE = 2
EXIT_LOAD = 3
_RESTART_DELAY = 1.0


@dataclass(frozen=True)
class ServeOptions:
    model_uri: str
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    model_name: str | None = None
    model_version: str | None = None
    tracking_uri: str | None = None
    model_cache: Path | None = None
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    max_body_bytes: int = DEFAULT_MAX_BODY
    drain_seconds: float = 30.0
    seldon_method: SeldonMethod = "predict"
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    access_log: bool = False
    http: Literal["modelyard", "uvicorn"] = "modelyard"
    loop: Literal["asyncio", "uvloop"] = "asyncio"
    log_timestamps: bool = False  # every line is stamped already (serving.output): no asctime


def serve(options: ServeOptions) -> int:
    """Run the server until SIGTERM; returns the process exit code."""
    _loop_factory(options.loop)  # a loop that is not installed fails here, before the model loads
    stamp = "" if options.log_timestamps else "%(asctime)s "
    logging.basicConfig(level=options.log_level.upper(), format=f"{stamp}%(levelname)s %(name)s: %(message)s")
    download_dir = options.model_cache or Path(tempfile.mkdtemp(prefix="modelyard-serve-"))
    try:
        try:
            source = resolve(options.model_uri, tracking_uri=options.tracking_uri, download_dir=download_dir)
        except (ModelSourceError, DomainError) as exc:
            _say(f"error: cannot serve {options.model_uri}: {exc}")
            return EXIT_SOURCE
        try:
            sock = bind(options.host, options.port)
        except OSError as exc:
            _say(f"error: {_bind_error(options.host, options.port, exc)}")
            return EXIT_BIND
        with sock:
            if options.workers > 1:
                return _prefork(source, sock, options)
            return serve_on(sock, source, options)
    finally:
        if options.model_cache is None:
            shutil.rmtree(download_dir, ignore_errors=True)


def bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def build_app(
    source: ModelSource, options: ServeOptions, *, metrics: Metrics | None = None
) -> tuple[ServingApp, ModelRuntime]:
    """The ASGI app for ``source`` (for embedding: serve it with any ASGI server)."""
    metrics = metrics or Metrics()
    runtime = ModelRuntime(
        source.local_dir,
        name=options.model_name or source.name,
        version=options.model_version or source.version,
        options=options.runtime,
        metrics=metrics,
    )
    dataplane = DataPlane(runtime, seldon_method=options.seldon_method)
    return ServingApp(dataplane, max_body_bytes=options.max_body_bytes), runtime


def serve_on(
    sock: socket.socket, source: ModelSource, options: ServeOptions, *, failure_fd: int | None = None
) -> int:
    """Serve on an already bound socket in this process until SIGTERM."""
    app, runtime = build_app(source, options)
    failures: list[str] = []
    started = time.perf_counter()
    if options.http == "uvicorn":
        stop, run = _uvicorn(sock, app, options)
    else:
        stop, run = _http_server(sock, app, options)

    def load_failed(message: str) -> None:
        failures.append(message)
        stop()

    def loaded() -> None:
        tune_gc()
        where = f"http://{options.host}:{sock.getsockname()[1]}"
        _say(
            f"serving model '{runtime.name}' ({runtime.model.flavor}) on {where}: ready in "
            f"{time.perf_counter() - started:.2f} s (pid {os.getpid()})"
        )

    app.load_failed, app.loaded = load_failed, loaded
    run()
    if failures:
        if failure_fd is not None:
            os.write(failure_fd, (failures[0].replace("\n", " ") + "\n").encode())
        else:
            _say(failures[0])
        return EXIT_LOAD
    return EXIT_OK


_Runner = tuple[Callable[[], None], Callable[[], None]]  # (stop, run)


def _http_server(sock: socket.socket, app: ServingApp, options: ServeOptions) -> _Runner:
    """modelyard's own HTTP server (the default)."""
    server = HttpServer(app, drain_seconds=options.drain_seconds, access_log=options.access_log)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stop)
        await server.serve(sock)

    def run() -> None:
        with asyncio.Runner(loop_factory=_loop_factory(options.loop)) as runner:
            runner.run(main())

    return server.stop, run


def _uvicorn(sock: socket.socket, app: ServingApp, options: ServeOptions) -> _Runner:
    """uvicorn (``--http uvicorn``)."""
    import uvicorn  # deferred: 0.1-0.3 s of every replica's cold start, for an option few use

    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level=options.log_level,
        access_log=options.access_log,
        timeout_graceful_shutdown=max(int(options.drain_seconds), 1),
        server_header=False,
        loop=options.loop,
    )
    server = uvicorn.Server(config)

    def stop() -> None:
        server.should_exit = True

    def run() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _absorb)  # uvicorn re-raises the signal after its graceful shutdown
        server.run(sockets=[sock])

    return stop, run


def uvloop_installed() -> bool:
    return _new_uvloop is not None


def _loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """asyncio's own loop (the default), or uvloop's (it comes with uvicorn[standard], except on
    Windows). uvloop serves a crowd of connections unevenly when the model keeps the loop busy: at
    64 connections to a 1 ms model, its p99 latency was 1.3 s against 0.13 s with asyncio's loop,
    at about the same requests/s (bench/serving, 2 cores). Asking for uvloop where it is missing is
    an error, not a quiet fall-back to the other loop."""
    if loop != "uvloop":
        return None
    if _new_uvloop is None:
        raise ValueError("the uvloop event loop was asked for, but uvloop is not installed")
    return _new_uvloop


def tune_gc() -> None:
    """Once the model is loaded: move everything built so far (the model, the libraries) out of the
    cyclic collector's view and make young collections rarer. Requests allocate many small objects;
    without this, collections keep walking the model's objects. (No ``gc.collect()`` first: on a
    process that just imported scikit-learn it takes ~0.1 s, right when the first requests arrive.)"""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _absorb(sig: int, frame: FrameType | None) -> None:
    """Ignore a signal that arrives when uvicorn is not listening for it (it re-raises)."""


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _bind_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {host}:{port}: the port is already in use (choose another with --port)"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {host}:{port}: permission denied (ports below 1024 need privileges)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


# -- pre-forked workers ----------------------------------------------------------------------------


def _prefork(source: ModelSource, sock: socket.socket, options: ServeOptions) -> int:
    read_fd, write_fd = os.pipe()
    stopping: list[int] = []
    children: set[int] = set()

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            code = EXIT_LOAD
            try:
                code = serve_on(sock, source, options, failure_fd=write_fd)
            finally:
                os._exit(code)
        children.add(pid)

    def forward(sig: int, frame: FrameType | None) -> None:
        stopping.append(sig)
        for pid in list(children):
            _kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(options.workers):
        spawn()
    os.close(write_fd)
    _say(
        f"started {options.workers} workers for model '{options.model_name or source.name}' (parent pid {os.getpid()})"
    )
    worst = EXIT_OK
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            worst = max(worst, 0 if code in (0, -signal.SIGTERM) else 1)
            continue
        if code == EXIT_LOAD:
            _say(_first_line(read_fd) or "error: a worker could not load the model")
            forward(signal.SIGTERM, None)
            worst = EXIT_LOAD
            continue
        _say(f"worker {pid} exited with code {code}; starting another in {_RESTART_DELAY:.0f} s")
        time.sleep(_RESTART_DELAY)
        if not stopping:
            spawn()
    os.close(read_fd)
    return worst


def _first_line(fd: int) -> str:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536).decode(errors="replace").split("\n", 1)[0]
    except BlockingIOError:
        return ""


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
