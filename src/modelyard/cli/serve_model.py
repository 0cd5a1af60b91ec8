"""``modelyard serve-model``: run the model server for one model (what every deployment replica runs).

Its options are parsed with argparse, not typer like the other commands: every replica's cold start
pays for this command's imports, and typer (with the pydantic it imports to coerce parameters)
costs 0.2-0.3 s of it. The serving runtime (numpy, the flavor loaders) is imported once the options
are parsed. The full CLI hands ``serve-model``'s arguments to ``main`` unparsed; ``python -m
modelyard.cli.serve_model --model-uri ...`` is the same command, without the rest of the CLI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from modelyard.serving.output import stamp_lines
from modelyard.serving.packages import missing
from modelyard.serving.proctitle import set_title

PREDICT_MODES = ("auto", "inline", "thread")
SELDON_METHODS = ("predict", "predict_proba")
LOG_LEVELS = ("debug", "info", "warning", "error")
HTTP_SERVERS = ("modelyard", "uvicorn")
LOOPS = ("asyncio", "uvloop")
EXIT_LOAD = 3  # as serving.server's: the model cannot be served here
SUMMARY = "Serve one model over Seldon v1, Open Inference Protocol V2 and MLflow scoring, with /metrics."


def _bounded(kind: Callable[[str], float], low: float, high: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text} is not {bounds}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="modelyard serve-model", description=SUMMARY)
    add = p.add_argument
    add(
        "--model-uri",
        required=True,
        help="A model directory, runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias> "
        "or models:/<name>/<stage>.",
    )
    add("--port", type=_bounded(int, 0, 65535), default=8080, help="Port to listen on (0: any free port).")
    add("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0 in a container).")
    add("--workers", type=_bounded(int, 1), default=1, help="Worker processes sharing the port.")
    add(
        "--max-batch-size",
        type=_bounded(int, 0),
        default=0,
        help="Adaptive batching: most rows merged into one predict call (0: off).",
    )
    add(
        "--max-batch-wait-ms",
        type=_bounded(float, 0.0),
        default=5.0,
        help="Adaptive batching: longest wait for a batch to fill.",
    )
    add(
        "--drain-seconds",
        type=_bounded(float, 0.0),
        default=30.0,
        help="On SIGTERM, how long in-flight requests may take to finish.",
    )
    add(
        "--max-body-bytes",
        type=_bounded(int, 1),
        default=100 * 1024 * 1024,
        help="Larger request bodies are refused with 413.",
    )
    add("--model-name", help="Name in V2 routes and metadata.")
    add("--model-version", help="Version in V2 routes and metadata.")
    add("--tracking-uri", help="Server for models:/ and runs:/ URIs (default: as the modelyard client).")
    add("--model-cache", type=Path, help="Keep downloaded models here (default: a temporary directory).")
    add("--predict-mode", choices=PREDICT_MODES, default="auto", help="Where predict runs.")
    add("--predict-threads", type=_bounded(int, 1), default=4, help="Threads for predict calls.")
    add("--seldon-method", choices=SELDON_METHODS, default="predict", help="What Seldon predictions call.")
    add("--log-level", choices=LOG_LEVELS, default="warning")
    add("--access-log", action="store_true", help="Log every request (slower).")
    add("--http", choices=HTTP_SERVERS, default="modelyard", help="HTTP server (modelyard's is the fastest).")
    add("--loop", choices=LOOPS, default="asyncio", help="Event loop (asyncio's is the fairest under load).")
    add(
        "--replica",
        metavar="DEPLOYMENT/REPLICA",
        help="Which deployment replica this is: the process title becomes 'modelyard serve-model "
        "DEPLOYMENT/REPLICA' (what the controller passes).",
    )
    add(
        "--log-timestamps",
        action="store_true",
        help="Start every line printed with the time (UTC), as the controller's replica logs are.",
    )
    return p


def main(args: list[str] | None = None) -> None:
    """Parse ``args`` (default: the command line), serve until SIGTERM, exit with serve's code."""
    command = parser()
    options = command.parse_args(args)
    if options.log_timestamps:
        stamp_lines()
    if options.replica:
        set_title(f"modelyard serve-model {options.replica}", options.replica)
    try:
        # Deferred: the runtime (numpy, the flavor loaders) is for this command only.
        from modelyard.serving.runtime import RuntimeOptions
        from modelyard.serving.server import ServeOptions, serve, uvloop_installed
    except ModuleNotFoundError as exc:  # a fresh install without the serve extra: one line, no traceback
        if exc.name is None:
            raise
        print(f"error: {missing(exc.name, what='modelyard serve-model')}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_LOAD) from None

    if options.loop == "uvloop" and not uvloop_installed():
        command.error(
            "argument --loop: uvloop is not installed here (pip install uvloop), use --loop asyncio"
        )

    raise SystemExit(
        serve(
            ServeOptions(
                model_uri=options.model_uri,
                host=options.host,
                port=int(options.port),
                workers=int(options.workers),
                model_name=options.model_name,
                model_version=options.model_version,
                tracking_uri=options.tracking_uri,
                model_cache=options.model_cache,
                runtime=RuntimeOptions(
                    max_batch_size=int(options.max_batch_size),
                    max_batch_wait=options.max_batch_wait_ms / 1000.0,
                    predict_mode=options.predict_mode,
                    threads=int(options.predict_threads),
                ),
                max_body_bytes=int(options.max_body_bytes),
                drain_seconds=options.drain_seconds,
                seldon_method=options.seldon_method,
                log_level=options.log_level,
                access_log=options.access_log,
                http=options.http,
                loop=options.loop,
                log_timestamps=options.log_timestamps,
            )
        )
    )


if __name__ == "__main__":
    main()
