"""The gateway in a process of its own, in front of the API: ``python -m modelyard.api.gateway.process``.

Why a process: predictions must not stop when the API server restarts or crashes. ``modelyard
server`` starts this process detached (its own session, like a replica, ``supervisor.py``), and a
later server adopts it instead of starting another. It holds the public port and answers
``/deployment/<name>/...`` itself (``Gateway``: routes and credentials read from the database with
its own engine, read-only but for a token's last-used time), and relays every other path to the API
process (``ApiRelay``), which listens on a private address. So a restart of the API only makes API
calls answer 503 for the seconds it takes (the mlflow client and ``modelyard.Client`` retry them);
replicas and this process keep serving predictions throughout.

Alternatives weighed: several API servers behind one listening socket (``SO_REUSEPORT``, or a
socket passed down) lose the requests in flight and the keep-alive connections of the process that
dies; an ``os.fork`` supervisor that only holds the socket still drops the connections of the
child that dies. Only a process that owns the client connections and outlives the API keeps every
prediction; the cost is one loopback hop for API calls (measured in ``bench/gateway``).

Settings come from ``MODELYARD_*`` variables (the supervisor passes the server's own). The process
runs until SIGTERM, then stops accepting, finishes the requests in flight and exits. A newer gateway
that replaces this one (other code or settings: another fingerprint) receives the listening socket
over the handoff socket, so the port is never closed: both accept until the new one serves, then
this one drains and exits on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import struct
import time
from typing import Any

import uvicorn
from starlette.types import Message, Receive, Scope, Send

from modelyard.api.gateway.metrics import GatewayMetrics
from modelyard.api.gateway.proxy import Gateway
from modelyard.api.gateway.relay import ApiRelay
from modelyard.api.gateway.runfiles import RunFiles, read_json, write_json
from modelyard.controller.backends.local import processes
from modelyard.services.artifacts import ArtifactService
from modelyard.services.deployments import DeploymentService
from modelyard.services.identity import IdentityService
from modelyard.settings import Settings
from modelyard.storage.artifacts import artifact_store_for
from modelyard.storage.db import Database
from modelyard.version import __version__

log = logging.getLogger("modelyard.gateway")

BACKLOG = 2048
HANDOFF_TIMEOUT_S = 5.0
SUCCESSOR_WAIT_S = 30.0  # after handing the socket over, how long to wait for the new gateway
# once the new gateway serves: no more accepting here, and every answer closes its connection, for
# this long before the connections left idle are closed (a client may be sending on one right now)
STEP_DOWN_S = 2.0
DRAIN_S = 30  # uvicorn's graceful shutdown: requests in flight (and API streams) get this long
_POLL_S = 0.1


class GatewayProcess:
    """The ASGI app of the process: the gateway, plus the process's own lifespan (notify and handoff
    sockets, the state file)."""

    def __init__(
        self, gateway: Gateway, relay: ApiRelay, files: RunFiles, settings: Settings, fingerprint: str
    ) -> None:
        self.gateway = gateway
        self.relay = relay
        self.files = files
        self.settings = settings
        self.fingerprint = fingerprint
        self.listener: socket.socket | None = None
        self.server: uvicorn.Server | None = None
        self._notify: socket.socket | None = None
        self._handoff: socket.socket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.stepping_down = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self.stepping_down:
            send = _closing(send)
        await self.gateway(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._tasks = [
                    asyncio.ensure_future(self._claim_names()),
                    asyncio.ensure_future(self._announce()),
                ]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                self._release_names()
                self.relay.close()
                self.gateway.upstream.close()
                state = read_json(self.files.state)
                if state is not None and state.get("pid") == os.getpid():
                    self.files.state.unlink(missing_ok=True)
                log.info("gateway stopped")
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the state file -------------------------------------------------------------------------------
    async def _announce(self) -> None:
        """Write the state file once uvicorn serves: a server waiting for this process sees it ready."""
        while self.server is None or not self.server.started:
            await asyncio.sleep(0.01)
        assert self.listener is not None
        write_json(
            self.files.state,
            {
                "pid": os.getpid(),
                "ident": processes.identity(os.getpid()),
                "host": self.settings.host,
                "port": self.settings.port,
                "fingerprint": self.fingerprint,
                "version": __version__,
                "started_at": time.time(),
            },
        )
        log.info("gateway serving on %s:%s", self.settings.host, self.settings.port)

    # -- the notify and handoff sockets -----------------------------------------------------------------
    async def _claim_names(self) -> None:
        """Bind the notify and handoff sockets; while a gateway that hands over to this one still
        holds them, try again until it lets go (every 50 ms, then less often)."""
        loop = asyncio.get_running_loop()
        pause = 0.05
        while self._notify is None or self._handoff is None:
            try:
                if self._notify is None:
                    self._notify = _bound(socket.SOCK_DGRAM, self.files.notify_name)
                    loop.add_reader(self._notify.fileno(), self._on_notify)
                if self._handoff is None:
                    self._handoff = _bound(socket.SOCK_STREAM, self.files.handoff_name)
                    self._handoff.listen(4)
                    loop.add_reader(self._handoff.fileno(), self._on_handoff)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    log.error("cannot open the gateway's notify and handoff sockets: %s", exc)
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 1.5, 2.0)

    def _release_names(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in (self._notify, self._handoff):
            if sock is not None:
                loop.remove_reader(sock.fileno())
                sock.close()
        self._notify = self._handoff = None

    def _on_notify(self) -> None:
        assert self._notify is not None
        while True:
            try:
                what = self._notify.recv(64)
            except BlockingIOError:
                return
            if what == b"routes":
                self.gateway.routes.invalidate()
            elif what == b"api":
                self.relay.reload()

    def _on_handoff(self) -> None:
        """A new gateway asks for the listening socket: send it, let go of the names, and stop once
        the new one serves."""
        assert self._handoff is not None and self.listener is not None
        try:
            conn, _ = self._handoff.accept()
        except BlockingIOError:
            return
        with conn:
            _, uid, _ = struct.unpack("iII", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if uid != os.getuid():
                log.warning("refused a handoff request from uid %s", uid)
                return
            conn.setblocking(True)
            conn.settimeout(HANDOFF_TIMEOUT_S)
            info = json.dumps({"pid": os.getpid(), "host": self.settings.host, "port": self.settings.port})
            socket.send_fds(conn, [info.encode()], [self.listener.fileno()])
        log.info("handed the listening socket over to a new gateway")
        self._release_names()
        self._tasks.append(asyncio.ensure_future(self._step_down()))

    async def _step_down(self) -> None:
        """Drain and exit once the new gateway serves; take the names back if it never does."""
        deadline = time.monotonic() + SUCCESSOR_WAIT_S
        while time.monotonic() < deadline:
            state = read_json(self.files.state)
            if state is not None and state.get("pid") not in (None, os.getpid()):
                log.info("gateway pid %s serves now; draining", state["pid"])
                if self.server is not None:
                    # The new gateway accepts every new connection from now (the socket stays open in
                    # it); requests on connections this one holds are answered with Connection:
                    # close, so that clients leave them instead of sending on them as they close.
                    self.stepping_down = True
                    for server in self.server.servers:
                        server.close()
                    await asyncio.sleep(STEP_DOWN_S)
                    self.server.should_exit = True
                return
            await asyncio.sleep(_POLL_S)
        log.warning("the new gateway did not start serving; this one carries on")
        await self._claim_names()


def _closing(send: Send) -> Send:
    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
        await send(message)

    return closing


def _bound(kind: socket.SocketKind, name: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, kind)
    try:
        sock.setblocking(False)
        sock.bind(name)
    except BaseException:
        sock.close()
        raise
    return sock


# -- the listening socket ------------------------------------------------------------------------------
def listening_socket(settings: Settings, files: RunFiles) -> socket.socket:
    """The public socket: handed over by the gateway that runs now, else bound here (after asking a
    gateway that holds the port but would not hand it over to stop)."""
    taken = _take_over(settings, files)
    if taken is not None:
        return taken
    deadline = time.monotonic() + 10.0
    while True:
        try:
            return _bind(settings.host, settings.port)
        except OSError as exc:
            previous = read_json(files.state)
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline or previous is None:
                raise
            pid, ident = previous.get("pid"), str(previous.get("ident", ""))
            if isinstance(pid, int) and pid != os.getpid() and processes.poll(pid, ident) is None:
                processes.send(pid, ident, signal.SIGTERM)
            time.sleep(_POLL_S)


def _take_over(settings: Settings, files: RunFiles) -> socket.socket | None:
    """The listening socket of the gateway named in the state file, if it runs and hands it over:
    the peer must be that process (pid and uid) and the socket a listening one on our port."""
    previous = read_json(files.state)
    if previous is None or not isinstance(previous.get("pid"), int):
        return None
    pid = previous["pid"]
    if processes.poll(pid, str(previous.get("ident", ""))) is not None:
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(HANDOFF_TIMEOUT_S)
            conn.connect(files.handoff_name)
            peer, uid, _ = struct.unpack("iII", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if (peer, uid) != (pid, os.getuid()):
                log.warning(
                    "the handoff socket is held by pid %s uid %s, not the gateway: ignored", peer, uid
                )
                return None
            message, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    except OSError as exc:
        log.warning("the running gateway (pid %s) did not hand its socket over: %s", pid, exc)
        return None
    if not fds:
        return None
    info: dict[str, Any] = json.loads(message or b"{}")
    sock = socket.socket(fileno=fds[0])
    listening = sock.type == socket.SOCK_STREAM and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if not listening or (info.get("host"), info.get("port")) != (settings.host, settings.port):
        sock.close()  # the address changed: bind our own; the old gateway stops on its own
        return None
    if sock.getsockname()[1] != settings.port:
        sock.close()
        return None
    log.info("took the listening socket over from gateway pid %s", pid)
    return sock


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


# -- main ------------------------------------------------------------------------------------------------
def build(settings: Settings, files: RunFiles, fingerprint: str) -> tuple[GatewayProcess, Database]:
    db = Database(settings.database_url)
    deployments = DeploymentService(db, ArtifactService(artifact_store_for(settings.artifact_uri)))
    metrics = GatewayMetrics()
    relay = ApiRelay(files, metrics=metrics)
    gateway = Gateway(
        relay, settings=settings, deployments=deployments, identity=IdentityService(db), metrics=metrics
    )
    return GatewayProcess(gateway, relay, files, settings, fingerprint), db


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="modelyard-gateway", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="the server's data dir (MODELYARD_DATA_DIR)")
    parser.add_argument("--port", type=int, help="the public port (MODELYARD_PORT)")
    parser.add_argument("--fingerprint", default="", help="the code and settings, as the server sees them")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.port:
        overrides["port"] = args.port
    settings = Settings(**overrides).resolved()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s [gateway] %(message)s"
    )
    files = RunFiles.of(settings)
    files.make()
    app, db = build(settings, files, args.fingerprint)
    app.listener = listening_socket(settings, files)
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_graceful_shutdown=DRAIN_S,
        backlog=BACKLOG,
    )
    server = uvicorn.Server(config)
    app.server = server
    try:
        server.run(sockets=[app.listener])
    finally:
        with contextlib.suppress(OSError):
            app.listener.close()
        db.dispose()


if __name__ == "__main__":
    main()
