"""``modelyard server``: run the platform — the API (tracking, registry, resource API, UI) and the
deployment controller in this process, and the inference gateway in a process of its own in front
of it (``--gateway inline``: in this process).

Start-up, with the gateway process: take this port's lock (one server per port and data dir), bring
the database up to date, bind the API to a private address (``api.sock`` in the data dir) and
publish it, then adopt the gateway that serves the public port (or start or replace it) and watch
it. Shut-down (Ctrl-C, SIGTERM): the API stops, the controller drains and stops the replicas, then
the gateway drains and stops — each step said on the terminal; ``--keep-replicas`` leaves the
replicas and the gateway serving for the next server, as a crash does.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import typer
import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from modelyard import userconfig
from modelyard.api.app import create_app
from modelyard.api.gateway.runfiles import Notifier, RunFiles, write_json
from modelyard.api.gateway.supervisor import (
    GatewayError,
    ServerLock,
    Supervisor,
    bind_api,
    running_gateway,
    stop_gateway,
    stop_strays,
)
from modelyard.controller.backends.local import inventory
from modelyard.logconfig import server_log_config
from modelyard.services.container import bootstrap_admin, prepare_storage
from modelyard.settings import DEFAULT_PORT, Settings

API_KEEP_ALIVE_S = 75  # the gateway's pooled connections are dropped after 60 s idle
API_SHUTDOWN_S = 10  # requests still open then (a `logs --follow` stream) are cancelled


def tune_gc() -> None:
    """Make the cyclic GC cheap for a long-running server.

    Responses of thousands of small objects (metric histories, run pages) trigger many young-generation
    collections, each of which used to walk every object the app built at start-up: that doubled the time
    of a 10,000-point history. Freezing moves start-up objects out of the collector's view, and a larger
    young-generation threshold makes collections rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def server(
    host: str = typer.Option(None, help="Address to bind (default 127.0.0.1; env MODELYARD_HOST)."),
    port: int = typer.Option(None, help=f"Port to listen on (default {DEFAULT_PORT}; env MODELYARD_PORT)."),
    data_dir: Path = typer.Option(
        None, help="Data directory (default ~/.modelyard; env MODELYARD_DATA_DIR)."
    ),
    backend_store_uri: str = typer.Option(
        None, help="sqlite:///path or postgresql+psycopg://... (default: SQLite in the data dir)."
    ),
    artifact_root: str = typer.Option(
        None, help="Local directory or s3://bucket/prefix (default: <data-dir>/artifacts)."
    ),
    workers: int = typer.Option(
        None, help="Server processes (default 1; env MODELYARD_WORKERS). More use more cores."
    ),
    no_auth: bool = typer.Option(
        False, "--no-auth", help="Serve without authentication (local experiments only; loopback hosts only)."
    ),
    force: bool = typer.Option(False, "--force", help="With --no-auth: allow a non-loopback host anyway."),
    keep_replicas: bool = typer.Option(
        False,
        "--keep-replicas",
        help="On exit, leave the replicas and the gateway serving for the next server to adopt (for "
        "upgrades and restarts); by default Ctrl-C and SIGTERM drain and stop them.",
    ),
    gateway: str = typer.Option(
        None,
        help="'process' (default): the inference gateway in its own process, so predictions go on "
        "while this server restarts; 'inline': in this process (env MODELYARD_GATEWAY).",
    ),
) -> None:
    """Start the modelyard server: tracking (MLflow-compatible API), model registry, deployments and
    their gateway, resource API, metrics."""
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "data_dir": data_dir,
            "backend_store_uri": backend_store_uri,
            "artifact_root": artifact_root,
            "workers": workers,
            "gateway": gateway,
        }.items()
        if v is not None
    }
    if no_auth:
        overrides["auth"] = False
    if keep_replicas:
        overrides["stop_replicas_on_exit"] = False
    try:
        settings = Settings(**overrides).resolved()
    except ValueError as exc:
        typer.secho(f"Invalid option: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    if not settings.auth and not is_loopback(settings.host) and not force:
        typer.secho(
            f"Refusing to serve without authentication on {settings.host}: anyone who can reach it could "
            "read and change everything. Use a loopback host, or add --force if you really mean it.",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    files = RunFiles.of(settings)
    lock = ServerLock(files)
    try:
        lock.acquire()
    except GatewayError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    try:
        prepare_storage(settings)
        if settings.auth:
            announce_first_admin(settings)
        settings = settings.model_copy(update={"migrate_on_start": False})
        for stray_port, pid in stop_strays(settings):
            typer.echo(f"Stopped the gateway that an earlier server left on port {stray_port} (pid {pid}).")
        if settings.gateway == "inline":
            _serve_inline(settings, files)
        else:
            _serve_behind_gateway(settings, files)
    finally:
        lock.release()


def _banner(settings: Settings) -> None:
    typer.echo(
        f"modelyard server on http://{settings.host}:{settings.port}  "
        f"(store: {settings.database_url}, artifacts: {settings.artifact_uri}, workers: {settings.workers})"
    )


def _serve_behind_gateway(settings: Settings, files: RunFiles) -> None:
    api_socket, address = bind_api(files)
    write_json(files.api, address.to_json())
    supervisor = Supervisor(settings, files)
    try:
        how = supervisor.ensure()
    except GatewayError as exc:
        api_socket.close()
        files.api.unlink(missing_ok=True)
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    notifier = Notifier(files)
    notifier.send(b"api")  # an adopted gateway reads the new address at once
    notifier.close()
    _banner(settings)
    typer.echo(f"gateway: pid {supervisor.pid}, {_HOW[how]}; log {files.log}")
    supervisor.watch()
    config = _config(
        settings,
        forwarded_allow_ips="*" if address.kind == "unix" else None,  # only the gateway can connect
        timeout_keep_alive=API_KEEP_ALIVE_S,
        server_header=False,  # the gateway's server adds them
        date_header=False,
    )
    report = ShutdownReport(settings, gateway_pid=supervisor.pid)
    try:
        _run(config, [api_socket], report)
    finally:
        files.api.unlink(missing_ok=True)
        if address.kind == "unix":
            Path(address.target).unlink(missing_ok=True)
    if settings.stop_replicas_on_exit:
        typer.echo(f"Stopping the gateway (pid {supervisor.pid}): it finishes the requests in flight.")
        try:
            supervisor.stop()
        except KeyboardInterrupt:
            typer.echo("Interrupted: killing the gateway.")
            supervisor.kill()
        typer.echo(report.done_line())
    else:
        supervisor.detach()


_HOW = {
    "adopted": "adopted (it kept serving predictions while no server ran)",
    "started": "started",
    "replaced": "replaced: the one that ran had other code or settings and hands over to the new one",
}


def _serve_inline(settings: Settings, files: RunFiles) -> None:
    left = running_gateway(files)
    if left is not None:  # a gateway process holds the port: let it drain and free the port
        typer.echo(f"Stopping the gateway process (pid {left['pid']}) on this port: --gateway inline.")
        stop_gateway(left, wait_s=40.0)
    _banner(settings)
    config = _config(settings, host=settings.host, port=settings.port)
    report = ShutdownReport(settings, gateway_pid=None)
    _run(config, None, report)
    if settings.stop_replicas_on_exit and report.started:
        typer.echo(report.done_line())


def _config(settings: Settings, **extra: Any) -> uvicorn.Config:
    common: dict[str, Any] = {
        "log_level": settings.log_level,
        "log_config": server_log_config(settings.log_level),  # the controller's lines too
        "access_log": settings.access_log,
        "timeout_graceful_shutdown": API_SHUTDOWN_S,
        **extra,
    }
    if settings.workers <= 1:
        app = create_app(settings, gateway=_notifier(settings))
        tune_gc()
        return uvicorn.Config(app, **common)
    # Several processes: each worker builds the app from the environment.
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            os.environ[f"MODELYARD_{name.upper()}"] = str(value)
    os.environ["MODELYARD_MIGRATE_ON_START"] = "false"
    return uvicorn.Config("modelyard.cli.server:worker_app", factory=True, workers=settings.workers, **common)


def _notifier(settings: Settings) -> Notifier | None:
    return Notifier(RunFiles.of(settings)) if settings.gateway == "process" else None


def _run(config: uvicorn.Config, sockets: list[Any] | None, report: ShutdownReport) -> None:
    """Serve until Ctrl-C or SIGTERM, then return (uvicorn re-raises the signal after its graceful
    shutdown; a handler of our own for SIGTERM lets the caller finish its part of the shut-down)."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if config.workers > 1:
            if sockets is None:
                sockets = [config.bind_socket()]
            workers = Multiprocess(config, sockets=sockets)
            report.watch(workers.should_exit.is_set)
            workers.run()
        else:
            server = uvicorn.Server(config)
            report.watch(lambda: server.should_exit)
            server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    finally:
        report.finish()
        signal.signal(signal.SIGTERM, previous)


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    """After uvicorn's graceful shutdown: nothing more to do here (the caller goes on)."""


class ShutdownReport:
    """Says what a stopping server stops or leaves running, and counts the replicas down as the
    controller drains them."""

    def __init__(
        self, settings: Settings, *, gateway_pid: int | None, say: Callable[[str], None] = typer.echo
    ) -> None:
        self.settings = settings
        self.gateway_pid = gateway_pid
        self.say = say
        self.stopped = 0
        self.started = False  # the shut-down began (a signal), as opposed to a failed start
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, stopping: Callable[[], bool]) -> None:
        self._thread = threading.Thread(target=self._run, args=(stopping,), daemon=True)
        self._thread.start()

    def finish(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            if self._done.wait(0.1):
                return
        self.started = True
        root = self.settings.data_dir / "deployments"
        running = {r.label for r in inventory.running(root)}
        self.say(self._intro(running))
        if not self.settings.stop_replicas_on_exit:
            return
        total = len(running)
        while running:
            done = self._done.wait(0.25)
            now = {r.label for r in inventory.running(root)}
            for label in sorted(running - now):
                self.stopped += 1
                self.say(f"  stopped replica {label} ({self.stopped} of {total})")
            running &= now
            if done:
                break

    def _intro(self, running: set[str]) -> str:
        deployments = len({label.split("/")[0] for label in running})
        replicas = f"{len(running)} replica(s) of {deployments} deployment(s)" if running else ""
        where = f"http://{self.settings.host}:{self.settings.port}"
        gateway = f"the gateway (pid {self.gateway_pid}, {where})" if self.gateway_pid else ""
        if not self.settings.stop_replicas_on_exit:
            kept = " and ".join(part for part in (replicas, gateway) if part)
            if not kept:
                return "Shutting down the API."
            return (
                f"Shutting down the API; leaving {kept} running: predictions go on, and the next "
                "`modelyard server` with this data dir adopts them."
            )
        if not replicas and not gateway:
            return "Shutting down."
        text = "Shutting down: the API stops"
        if replicas:
            text += f"; {replicas} drain and stop"
        if gateway:
            text += ", then the gateway"
        return (
            f"{text} (`--keep-replicas` leaves {'them' if replicas else 'it'} serving for the next server)."
        )

    def done_line(self) -> str:
        left = [r.label for r in inventory.running(self.settings.data_dir / "deployments")]
        if left:
            return f"Stopped, but these replicas still run: {', '.join(left)}."
        parts = ["the API"]
        if self.stopped:
            parts.append(f"{self.stopped} replica(s)")
        if self.gateway_pid:
            parts.append("the gateway")
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"Stopped: {listed}."


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def announce_first_admin(settings: Settings) -> None:
    """On an empty installation, create the first admin and a token, show it once, and save it in the
    user's config file so the CLI and modelyard.Client on this machine work without flags.

    The config file keeps one entry per server URL. It names this server the CLI's default only when
    there is no default yet (or it is this URL); when the default is another server, a terminal is
    asked (default: keep it), anything else keeps it, and the way to reach this server is printed."""
    created = bootstrap_admin(settings)
    if created is None:
        return
    username, token = created
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{shown_host}:{settings.port}"
    current = userconfig.default_url()
    make_default = current is None or current == url
    if not make_default and _interactive():
        make_default = typer.confirm(
            f"The CLI's default server is {current}. Make this one ({url}) the default instead?",
            default=False,
        )
    path = userconfig.save_credentials(url, username, token, make_default=make_default)
    typer.secho("\nFirst start: created the platform admin user 'admin' and an API token:", fg="green")
    typer.secho(f"\n    {token}\n", bold=True)
    typer.echo(
        "It is shown only this once. It is saved for this machine's CLI and modelyard.Client in "
        f"{path} (mode 0600).\nUse it from the mlflow client with:  export MLFLOW_TRACKING_TOKEN={token}\n"
    )
    if not make_default:
        typer.echo(
            f"The CLI's default server stays {current}; reach this one with `modelyard --url {url} ...` "
            f"or `export MODELYARD_URL={url}` (its token is saved for that URL).\n"
        )


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def worker_app() -> FastAPI:
    """The app of one worker process (``--workers`` > 1), configured from ``MODELYARD_*`` variables."""
    settings = Settings().resolved()
    app = create_app(settings, gateway=_notifier(settings))
    tune_gc()
    return app
