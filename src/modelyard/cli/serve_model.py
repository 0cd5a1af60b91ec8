"""``modelyard serve-model``: run the model server for one model (what every deployment replica runs).

It imports only typer until it runs: the serving runtime (numpy, uvicorn, the flavor loaders) is
imported when the command starts, so other ``modelyard`` commands do not pay for it. For the
fastest start, run this module directly: ``python -m modelyard.cli.serve_model --model-uri ...``
skips the rest of the CLI's imports.
"""

from __future__ import annotations

from pathlib import Path

import typer

PREDICT_MODES = ("auto", "inline", "thread")
SELDON_METHODS = ("predict", "predict_proba")
LOG_LEVELS = ("debug", "info", "warning", "error")
HTTP_SERVERS = ("modelyard", "uvicorn")
LOOPS = ("asyncio", "uvloop")


def serve_model(
    model_uri: str = typer.Option(
        ...,
        "--model-uri",
        help="A model directory, runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias> "
        "or models:/<name>/<stage>.",
    ),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 in a container)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes sharing the port."),
    max_batch_size: int = typer.Option(
        0,
        "--max-batch-size",
        min=0,
        help="Adaptive batching: most rows merged into one predict call (0: off).",
    ),
    max_batch_wait_ms: float = typer.Option(
        5.0, "--max-batch-wait-ms", min=0.0, help="Adaptive batching: longest wait for a batch to fill."
    ),
    drain_seconds: float = typer.Option(
        30.0, "--drain-seconds", min=0.0, help="On SIGTERM, how long in-flight requests may take to finish."
    ),
    max_body_bytes: int = typer.Option(
        100 * 1024 * 1024, "--max-body-bytes", min=1, help="Larger request bodies are refused with 413."
    ),
    model_name: str | None = typer.Option(None, "--model-name", help="Name in V2 routes and metadata."),
    model_version: str | None = typer.Option(
        None, "--model-version", help="Version in V2 routes and metadata."
    ),
    tracking_uri: str | None = typer.Option(
        None, "--tracking-uri", help="Server for models:/ and runs:/ URIs (default: as the modelyard client)."
    ),
    model_cache: Path | None = typer.Option(
        None, "--model-cache", help="Keep downloaded models here (default: a temporary directory)."
    ),
    predict_mode: str = typer.Option(
        "auto", "--predict-mode", help="Where predict runs: auto, inline (event loop) or thread."
    ),
    predict_threads: int = typer.Option(4, "--predict-threads", min=1, help="Threads for predict calls."),
    seldon_method: str = typer.Option(
        "predict", "--seldon-method", help="What Seldon predictions call: predict or predict_proba."
    ),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request (slower)."),
    http: str = typer.Option(
        "modelyard", "--http", help="HTTP server: modelyard (built in, fastest) or uvicorn."
    ),
    loop: str = typer.Option("asyncio", "--loop", help="Event loop: asyncio (fairest under load) or uvloop."),
) -> None:
    """Serve one model over Seldon v1, Open Inference Protocol V2 and MLflow scoring, with /metrics."""
    for value, allowed, option in (
        (predict_mode, PREDICT_MODES, "--predict-mode"),
        (seldon_method, SELDON_METHODS, "--seldon-method"),
        (log_level, LOG_LEVELS, "--log-level"),
        (http, HTTP_SERVERS, "--http"),
        (loop, LOOPS, "--loop"),
    ):
        if value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=option)
    # Deferred: the runtime (numpy, uvicorn, flavor loaders) is for this command only.
    from modelyard.serving.runtime import RuntimeOptions
    from modelyard.serving.server import ServeOptions, serve

    options = ServeOptions(
        model_uri=model_uri,
        host=host,
        port=port,
        workers=workers,
        model_name=model_name,
        model_version=model_version,
        tracking_uri=tracking_uri,
        model_cache=model_cache,
        runtime=RuntimeOptions(
            max_batch_size=max_batch_size,
            max_batch_wait=max_batch_wait_ms / 1000.0,
            predict_mode=predict_mode,  # type: ignore[arg-type]  # checked above
            threads=predict_threads,
        ),
        max_body_bytes=max_body_bytes,
        drain_seconds=drain_seconds,
        seldon_method=seldon_method,  # type: ignore[arg-type]  # checked above
        log_level=log_level,  # type: ignore[arg-type]  # checked above
        access_log=access_log,
        http=http,  # type: ignore[arg-type]  # checked above
        loop=loop,  # type: ignore[arg-type]  # checked above
    )
    raise typer.Exit(serve(options))


def main(args: list[str] | None = None) -> None:
    """Run this command alone: ``python -m modelyard.cli.serve_model``, or a fast path of the CLI
    that hands it ``sys.argv[2:]`` before importing the other commands."""
    app = typer.Typer(add_completion=False)
    app.command()(serve_model)
    app(args=args, prog_name="modelyard serve-model")


if __name__ == "__main__":
    main()
