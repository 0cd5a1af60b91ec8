"""/docs and /redoc work offline (issue 24, item 9): the pages load their scripts, styles and icons from
this server, never from another host."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

_URL = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_documentation_pages_use_only_this_servers_assets(http: TestClient, page: str) -> None:
    r = http.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.text
    html = r.text
    urls = _URL.findall(html)
    assert urls, html
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s'\"]+", html)
    assets = [u for u in urls if u.endswith((".js", ".css", ".png"))]
    assert len(assets) >= (3 if page == "/docs" else 1), urls
    for url in [*assets, "/openapi.json"]:
        assert url.startswith("/"), url
        got = http.get(url)
        assert got.status_code == 200, (url, got.status_code)
        assert len(got.content) > 100, url
    kinds = {u.rsplit(".", 1)[-1] for u in assets}
    assert "js" in kinds


def test_the_swagger_oauth_redirect_page_is_served(http: TestClient) -> None:
    r = http.get("/docs/oauth2-redirect")
    assert r.status_code == 200 and "oauth2" in r.text.lower()
