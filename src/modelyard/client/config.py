"""Where the client connects and how it proves who it is, when the caller does not say.

URL: ``MODELYARD_URL``, else ``MLFLOW_TRACKING_URI`` when it is an http(s) URL, else the default server
of the user's config file (``modelyard.userconfig``, written by the first ``modelyard server``), else
``http://127.0.0.1:5050``.

Credentials, first found wins: the token passed in (sent as cube-studio's ``<username>|<token>`` when a
username is passed with it, else as a bearer token); ``MODELYARD_TOKEN``; ``MLFLOW_TRACKING_TOKEN``;
``MLFLOW_TRACKING_USERNAME`` with ``MLFLOW_TRACKING_PASSWORD`` (HTTP Basic, as the mlflow client sends);
the token saved for that URL in the user's config file. None of them: no Authorization header.
"""

from __future__ import annotations

import base64
import os

from modelyard import userconfig

DEFAULT_URL = "http://127.0.0.1:5050"
TOKEN_VARIABLES = ("MODELYARD_TOKEN", "MLFLOW_TRACKING_TOKEN")


def default_url() -> str:
    url = os.environ.get("MODELYARD_URL")
    if url:
        return url
    mlflow_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if mlflow_uri.startswith(("http://", "https://")):
        return mlflow_uri
    return userconfig.default_url() or DEFAULT_URL


def authorization(url: str, *, token: str | None = None, username: str | None = None) -> str | None:
    """The ``Authorization`` header value for requests to ``url``, or None to send none."""
    if token:
        return f"{username}|{token}" if username else f"Bearer {token}"
    for name in TOKEN_VARIABLES:
        value = os.environ.get(name)
        if value:
            return f"Bearer {value}"
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    saved = userconfig.credentials_for(url)
    if saved and saved.get("token"):
        return f"Bearer {saved['token']}"
    return None
