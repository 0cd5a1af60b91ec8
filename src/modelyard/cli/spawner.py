"""A warm process that forks replicas: ``python -m modelyard.cli.spawner --fd N``.

A replica's cold start is mostly imports (numpy, pandas, scikit-learn: 1-2 s on an idle core, several
times that on a busy machine). The local backend keeps one spawner per server: it imports the serving
runtime and the common model libraries once, then forks a replica whenever asked, so a replica that
crashed or an update's new replicas start with those imports already done.

The protocol is JSON lines over the socket inherited as fd ``N``. The spawner says ``{"ready": true}``
once it has imported what it preloads; the backend sends ``{"id", "argv", "log"}`` (``argv``: the
arguments of ``modelyard serve-model``; ``log``: the file for the replica's stdout and stderr) and gets
``{"id", "pid"}`` (or ``{"id", "error"}``); when a replica exits, the spawner (its parent) reaps it
and says ``{"exit": pid, "code": code}``. The replica runs in a session of its own, like one started
by ``posix_spawn``, and outlives the spawner and the server. The spawner exits when the socket
closes (the server stopped or died).

A forked replica has the spawner's environment: the backend uses it only for replicas whose predictor
sets no environment variables (a variable such as ``OMP_NUM_THREADS`` must be there before the
libraries are imported).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import signal
import socket
import sys
import threading
from typing import Any

# not skops.io: it imports most of scikit-learn (200 MB more, for MLflow 3's default format only)
PRELOAD = ("pandas", "sklearn.base", "sklearn.linear_model")


class Spawner:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.send_lock = threading.Lock()
        self.children = threading.Condition()
        self.count = 0

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        with self.send_lock, contextlib.suppress(OSError):
            self.sock.sendall(data)

    def serve(self) -> None:
        threading.Thread(target=self.reap, name="reaper", daemon=True).start()
        self.send({"ready": True, "pid": os.getpid()})
        with self.sock.makefile("rb") as lines:
            for raw in lines:
                try:
                    request = json.loads(raw)
                    pid = self.fork(list(request["argv"]), str(request["log"]))
                    self.send({"id": request["id"], "pid": pid})
                except Exception as exc:  # a bad request or a failed fork: the backend spawns instead
                    self.send(
                        {"id": request.get("id") if isinstance(request, dict) else None, "error": str(exc)}
                    )

    def fork(self, argv: list[str], log: str) -> int:
        with self.send_lock:  # not in the middle of a send: the child must not inherit a held lock
            pid = os.fork()
        if pid == 0:
            self.child(argv, log)  # never returns
        with self.children:
            self.count += 1
            self.children.notify()
        return pid

    def child(self, argv: list[str], log: str) -> None:
        code = 1
        try:
            os.setsid()
            self.sock.close()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            os.close(null)
            sys.argv = [sys.argv[0], *argv]
            from modelyard.cli import serve_model

            serve_model.main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def reap(self) -> None:
        while True:
            with self.children:
                while self.count == 0:
                    self.children.wait()
            try:
                pid, status = os.wait()
            except ChildProcessError:
                with self.children:
                    self.count = 0
                continue
            with self.children:
                self.count -= 1
            self.send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import the serving runtime and whichever of ``modules`` are installed; the ones imported."""
    from modelyard.cli import serve_model  # noqa: F401  (the command the children run)
    from modelyard.serving import server  # noqa: F401  (numpy and the runtime)

    done = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # not installed, or broken: the children import what they need themselves
            continue
        done.append(name)
    gc.collect()
    gc.freeze()  # what was imported stays shared with the children, unwritten by their collector
    return done


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m modelyard.cli.spawner", description=__doc__)
    p.add_argument("--fd", type=int, required=True, help="the socket to the backend")
    args = p.parse_args()
    sock = socket.socket(fileno=args.fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server's terminal is the server's
    with contextlib.suppress(ImportError):
        from modelyard.serving.proctitle import set_title

        set_title("modelyard replica spawner", "modelyard-spawn")
    try:
        preload()
    except ImportError as exc:  # the replicas cannot start here either: they will say why, one line each
        print(f"modelyard replica spawner: not used here: {exc}", file=sys.stderr, flush=True)
        return
    Spawner(sock).serve()


if __name__ == "__main__":
    main()
