"""The "practical limit" server of the serving benchmark: the least a Python HTTP server can do per request.

A raw ASGI app (no framework) for uvicorn: read the body, orjson-parse it, model.predict, orjson the result.
    POST /predict  {"inputs": [[...], ...]}  ->  {"predictions": [...]}
    GET  /health   -> {"ok": true}
The model (a joblib file) comes from $BARE_MODEL_PATH and is loaded at import, before uvicorn listens.
predict runs on the event loop itself (no thread pool hop): with one worker, requests are served one at a
time, which is the cheapest way to use one core.
"""

from __future__ import annotations

import os
from typing import Any

import joblib
import numpy as np
import orjson

MODEL = joblib.load(os.environ["BARE_MODEL_PATH"])
_JSON = [(b"content-type", b"application/json")]


def _predict(body: bytes) -> tuple[int, bytes]:
    try:
        x = np.asarray(orjson.loads(body)["inputs"], dtype=np.float64)
        return 200, orjson.dumps({"predictions": MODEL.predict(x)}, option=orjson.OPT_SERIALIZE_NUMPY)
    except Exception as e:
        return 400, orjson.dumps({"error": f"{type(e).__name__}: {e}"})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        msg = await receive()
        body += msg.get("body", b"")
        more = msg.get("more_body", False)
    path, method = scope["path"], scope["method"]
    if path == "/predict" and method == "POST":
        status, out = _predict(body)
    elif path == "/health" and method == "GET":
        status, out = 200, b'{"ok":true}'
    else:
        status, out = 404, b'{"error":"not found"}'
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": out})
