"""HTTP to one modelyard server: JSON in and out, credentials, retries, errors mapped to ModelyardError.

Requests are retried with exponential back-off when no connection could be made (or the server dropped
it before answering) and on 502/503/504, POSTs included: every tracking write the server offers is
idempotent under retry (metric points dedup by key/step/timestamp, same-value params are accepted, run
creation carries an ``Idempotency-Key``). A call marked ``idempotent=False`` (creating a user or a
token) is retried only when the connection could not even be made. Other statuses are raised at once.
No httpx exception escapes.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

import httpx

from modelyard.client.errors import BAD_RESPONSE, SERVER_UNREACHABLE, ModelyardError, error_from_response
from modelyard.version import __version__

RETRY_STATUSES = frozenset({502, 503, 504})
# Failures where the request certainly, or harmlessly, did not take effect.
_RETRY_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
)
MAX_BACKOFF_S = 8.0

_NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
Params = Mapping[str, str | int | list[str]]


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        authorization: str | None,
        timeout: float,
        max_retries: int,
        backoff: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"User-Agent": f"modelyard-client/{__version__}", "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        self.base_url = base_url
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, **_transports(base_url)
        )

    def close(self) -> None:
        self._http.close()

    # -- JSON calls ---------------------------------------------------------------------------------

    def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        return _json(self.send("GET", path, params=params))

    def post(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return _json(self.send("POST", path, json=body, headers=headers))

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Any method, JSON in and out."""
        return _json(self.send(method, path, params=params, json=body, idempotent=idempotent))

    # -- raw calls ----------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        open_content: Callable[[], IO[bytes]] | None = None,
        stream: bool = False,
        idempotent: bool = True,
    ) -> httpx.Response:
        """One request with retries; the response of a success (status < 400), else ModelyardError.

        ``open_content`` opens the body afresh for each attempt (a file to stream up). With
        ``stream=True`` the body is left unread and the caller must close the response.
        """
        attempt = 0
        while True:
            content = open_content() if open_content is not None else None
            try:
                request = self._http.build_request(
                    method, path, params=params, json=json, headers=headers, content=content
                )
                response = self._http.send(request, stream=stream)
            except _RETRY_EXCEPTIONS as exc:
                if attempt >= self.max_retries or not (idempotent or isinstance(exc, _NOT_SENT)):
                    raise self._unreachable(exc) from None
            except httpx.TimeoutException as exc:
                raise ModelyardError(
                    f"{method} {path} timed out after {self._http.timeout.read}s ({type(exc).__name__}); "
                    "raise the client's timeout for slow calls.",
                    error_code=SERVER_UNREACHABLE,
                ) from None
            except httpx.HTTPError as exc:
                raise self._unreachable(exc) from None
            else:
                if response.status_code < 400:
                    return response
                if (
                    response.status_code not in RETRY_STATUSES
                    or attempt >= self.max_retries
                    or not idempotent
                ):
                    response.read()
                    response.close()
                    raise error_from_response(response)
                response.close()
            finally:
                if content is not None:
                    content.close()
            self._sleep(min(MAX_BACKOFF_S, self.backoff * 2**attempt))
            attempt += 1

    @contextmanager
    def stream(self, path: str, params: Params | None = None) -> Iterator[httpx.Response]:
        """A GET whose body is read incrementally; transfer failures become ModelyardError."""
        response = self.send("GET", path, params=params, stream=True)
        try:
            yield response
        except httpx.HTTPError as exc:
            raise ModelyardError(
                f"Download of {path} broke off: {exc or type(exc).__name__}", error_code=SERVER_UNREACHABLE
            ) from None
        finally:
            response.close()

    def _unreachable(self, exc: Exception) -> ModelyardError:
        return ModelyardError(
            f"Cannot reach the modelyard server at {self.base_url} ({exc or type(exc).__name__}). "
            "Is it running? Point the client at it with --url or MODELYARD_URL.",
            error_code=SERVER_UNREACHABLE,
        )


class _VerifiedOnFirstUse(httpx.BaseTransport):
    """httpx's default (certificate-verifying) transport, built when the first request needs it."""

    def __init__(self) -> None:
        self._inner: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self._inner is None:
                self._inner = httpx.HTTPTransport()
        return self._inner.handle_request(request)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


def _transports(base_url: str) -> dict[str, Any]:
    """Building a TLS context loads the CA bundle: about 0.1 s, a third of a CLI command's time. A
    client of an ``http://`` server never needs it, so ``https://`` URLs (none, unless a caller passes
    one) get the verifying transport on first use, and ``http://`` ones a transport whose TLS context
    trusts no certificate at all (it is never used for TLS; if it were, every handshake would fail)."""
    if not base_url.startswith("http://"):
        return {}
    untrusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return {
        "transport": httpx.HTTPTransport(verify=untrusting),
        "mounts": {"https://": _VerifiedOnFirstUse()},
    }


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ModelyardError(
            f"{response.request.method} {response.request.url.path} answered HTTP {response.status_code} "
            "without a JSON object; is this URL a modelyard (or MLflow) server?",
            error_code=BAD_RESPONSE,
            status_code=response.status_code,
        )
    return data
