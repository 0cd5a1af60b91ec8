"""Open-loop prediction load for the recovery scenarios: ``--rate`` requests a second, whatever the answers.

Runs as its own process (so that the bench's polling does not share its GIL) until SIGTERM, then writes
one JSON line per request to ``--out``: ``[sent, done, status, answer]``, times in seconds since the
epoch, ``status`` 0 for a connection error, ``answer`` the ``model_version`` of a V2 answer (or the
first 200 characters of anything else). Requests are HTTP/1.1 on ``--connections`` kept-alive
connections, written by hand over asyncio streams: a Python HTTP client would take a good share of the
2 cores the server and the replicas run on. A request that finds every connection busy waits for one,
and its latency counts the wait (that is what an open loop measures).

    python bench/deploy/load.py --url http://127.0.0.1:5050/deployment/x/v2/models/x/infer \\
        --body body.json --rate 200 --out records.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

Record = tuple[float, float, int, str]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    else:
        body, keep = await reader.read(), False
    return status, body, keep


def _answer(status: int, body: bytes) -> str:
    if status == 200:
        with contextlib.suppress(ValueError, AttributeError):
            return str(json.loads(body).get("model_version"))
    return body[:200].decode("utf-8", "replace")


async def _worker(
    host: str, port: int, request: bytes, queue: asyncio.Queue[float | None], records: list[Record]
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while (due := await queue.get()) is not None:
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status, body, keep = await _read_response(reader)
            records.append((due, time.time(), status, _answer(status, body)))
            if not keep:
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            records.append((due, time.time(), 0, f"{type(exc).__name__}: {exc}"))
            if writer is not None:
                writer.close()
            reader = writer = None


async def run(url: str, body: bytes, rate: float, connections: int, stop: asyncio.Event) -> list[Record]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    records: list[Record] = []
    workers = [asyncio.create_task(_worker(host, port, request, queue, records)) for _ in range(connections)]
    start, sent = time.time(), 0
    while not stop.is_set():
        due = start + sent / rate
        delay = due - time.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            continue
        queue.put_nowait(due)  # the time it was due, so that a late send counts as latency
        sent += 1
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.wait(workers, timeout=30)
    return records


async def main_async(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    records = await run(args.url, Path(args.body).read_bytes(), args.rate, args.connections, stop)
    with Path(args.out).open("w") as f:
        for record in sorted(records):
            f.write(json.dumps(record) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True, help="a file with the request body (JSON)")
    p.add_argument("--rate", type=float, default=200.0, help="requests per second")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--out", required=True)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
