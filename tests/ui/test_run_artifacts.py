"""The run page's artifact browser with the test client (and a live server where streaming matters):
listing and paging, previews of each kind, the size limit (a 2 GB sparse file), downloads of files
and of folders as zips, path traversal refused with a message, registering a model directory, and
escaping of artifact names and contents."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.conftest import LiveServer, UserCreds
from tests.ui.helpers import csrf_of
from tests.ui.run_helpers import XSS_IMG, XSS_SCRIPT, Team, make_team, write_artifact

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@pytest.fixture
def team(services: Services, make_user: Callable[..., UserCreds]) -> Team:
    return make_team(services, make_user)


@pytest.fixture
def alice_ui(user_ui: Callable[[UserCreds], TestClient], team: Team) -> TestClient:
    return user_ui(team.alice)


def _tab(client: TestClient, team: Team, path: str = "", **extra: str) -> httpx.Response:
    params = {"tab": "artifacts", **({"path": path} if path else {}), **extra}
    return client.get(f"/runs/{team.run_id}", params=params)


def _between(text: str, start: str, end: str) -> str:
    found = re.search(re.escape(start) + "(.*?)" + re.escape(end), text, re.S)
    assert found is not None, f"nothing between {start!r} and {end!r}"
    return found.group(1)


def _shown_text(page: str) -> str:
    found = re.search(r"<pre [^>]*data-preview-text[^>]*>(.*?)</pre>", page, re.S)
    assert found is not None, "no text preview"
    return found.group(1)


def _local_root(services: Services, team: Team) -> Path:
    run = services.tracking.get_run(Principal.system(), team.run_id)
    found = services.artifact_service.local_dir(run.artifact_uri)
    assert found is not None
    return found


def test_the_listing_shows_folders_and_files_with_sizes(
    alice_ui: TestClient, services: Services, team: Team
) -> None:
    write_artifact(services, team.run_id, "metrics.json", b'{"auc": 0.91}')
    root = _tab(alice_ui, team)
    assert root.status_code == 200
    entries = re.findall(
        r'data-entry="(.*?)"><span class="kind" aria-hidden="true">.</span> (.*?)</a>', root.text
    )
    assert entries == [("metrics.json", "metrics.json"), ("model", "model/")]
    assert f'href="/runs/{team.run_id}/artifacts/zip?path="' in root.text
    folder = _tab(alice_ui, team, "model").text
    assert re.findall(r'data-entry="(.*?)"', folder) == ["model/MLmodel", "model/model.pkl"]
    assert '<span class="muted size">22 Bytes</span>' in folder  # model.pkl
    assert "data-register-form" in folder  # the folder holds an MLmodel file


def test_a_long_folder_is_listed_a_page_at_a_time(
    alice_ui: TestClient, services: Services, team: Team
) -> None:
    for i in range(501):
        write_artifact(services, team.run_id, f"many/f{i:04d}.txt", b"x")
    first = _tab(alice_ui, team, "many").text
    assert len(re.findall(r'data-entry="many/', first)) == 500
    assert "Entries 1\u2013500 of 501." in first
    assert "start=500" in first
    second = _tab(alice_ui, team, "many", start="500").text
    assert re.findall(r'data-entry="(many/.*?)"', second) == ["many/f0500.txt"]
    # a file on the second page opens with that page of its folder listed
    assert "many/f0500.txt" in re.findall(
        r'data-entry="(many/.*?)"', _tab(alice_ui, team, "many/f0500.txt").text
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../other-run", "&#39;..&#39; segments are not allowed"),
        ("model/../../x", "&#39;..&#39; segments are not allowed"),
        ("/etc/passwd", "the path must be relative, not absolute"),
        ("..\\x", "backslashes and NUL bytes are not allowed"),
    ],
)
def test_path_traversal_is_refused_with_a_message(
    alice_ui: TestClient, team: Team, path: str, message: str
) -> None:
    page = _tab(alice_ui, team, path)
    assert page.status_code == 400
    assert message in _between(page.text, "data-artifact-error>", "</p>")
    assert "data-artifact-list" in page.text  # the browser is still there, at the root
    for route in ("download", "zip", "raw"):
        answer = alice_ui.get(f"/runs/{team.run_id}/artifacts/{route}", params={"path": path})
        assert answer.status_code == 400, route
        assert message in answer.text


def test_a_nul_byte_in_the_path_is_refused(alice_ui: TestClient, team: Team) -> None:
    # refused before any route, by the request line guard (for every path of the server)
    answer = alice_ui.get(f"/runs/{team.run_id}?tab=artifacts&path=a%00b")
    assert answer.status_code == 400
    assert "NUL characters (%00) are not allowed" in answer.text


def test_an_encoded_traversal_is_decoded_once_and_refused(alice_ui: TestClient, team: Team) -> None:
    page = alice_ui.get(f"/runs/{team.run_id}?tab=artifacts&path=%2e%2e%2fsecret")
    assert page.status_code == 400
    assert "&#39;..&#39; segments are not allowed" in page.text
    # encoded twice it is a file name like any other, which this run does not have
    page = alice_ui.get(f"/runs/{team.run_id}?tab=artifacts&path=%252e%252e%252fsecret")
    assert page.status_code == 404
    assert "This run has no artifact at &#39;%2e%2e%2fsecret&#39;." in page.text


def test_a_symlink_out_of_the_artifact_root_is_neither_listed_nor_followed(
    alice_ui: TestClient, services: Services, team: Team, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (_local_root(services, team) / "leak.txt").symlink_to(secret)
    assert "leak.txt" not in _tab(alice_ui, team).text
    page = _tab(alice_ui, team, "leak.txt")
    assert page.status_code == 404
    assert "top secret" not in page.text
    answer = alice_ui.get(f"/runs/{team.run_id}/artifacts/download", params={"path": "leak.txt"})
    assert answer.status_code == 404 and "top secret" not in answer.text


def test_a_missing_artifact_is_said_on_the_tab(alice_ui: TestClient, team: Team) -> None:
    page = _tab(alice_ui, team, "model/nope.bin")
    assert page.status_code == 404
    assert "This run has no artifact at &#39;model/nope.bin&#39;." in page.text


def test_previews_of_text_json_yaml_markdown_svg_and_binary(
    alice_ui: TestClient, services: Services, team: Team
) -> None:
    files = {
        "notes/train.log": b"epoch 1 loss=0.5\n" + XSS_SCRIPT.encode(),
        "notes/conf.json": json.dumps({"lr": 0.1, "tag": XSS_IMG}).encode(),
        "notes/broken.json": b'{"lr": ',
        "notes/env.yaml": b"name: churn\ndependencies: [numpy, pandas]\n",
        "notes/README.md": b"# Results <script>window.__xss=1</script>\n\n*good* [x](javascript:alert(1))",
        "notes/plot.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>window.__xss=1</script></svg>',
        "notes/blob.bin": b"\x00\x01\x02binary",
    }
    for path, data in files.items():
        write_artifact(services, team.run_id, path, data)

    def preview(path: str) -> tuple[str, str]:
        text = _tab(alice_ui, team, path).text
        return _between(text, 'data-preview="', '"'), text

    kind, text = preview("notes/train.log")
    assert kind == "text"
    assert "epoch 1 loss=0.5\n&lt;script&gt;window.__xss=1&lt;/script&gt;</pre>" in text
    kind, text = preview("notes/conf.json")
    assert kind == "json"
    assert "{\n  &#34;lr&#34;: 0.1,\n  &#34;tag&#34;: &#34;\\&#34;&gt;&lt;img" in text
    kind, text = preview("notes/broken.json")
    assert kind == "text"
    assert "Not valid JSON (" in text
    kind, text = preview("notes/env.yaml")
    assert kind == "yaml"
    assert "dependencies: [numpy, pandas]" in text
    kind, text = preview("notes/README.md")
    assert kind == "markdown"
    markdown = _between(text, "data-preview-markdown>", "</div>")
    assert markdown.startswith("<h1>Results &lt;script&gt;window.__xss=1&lt;/script&gt;</h1>")
    assert "<em>good</em>" in markdown and "javascript:" not in markdown.split("[x]")[0] + "href"
    assert 'href="javascript' not in markdown
    kind, text = preview("notes/plot.svg")
    assert kind == "text"
    assert "SVG images are shown as text" in text
    assert "&lt;svg xmlns=" in text and "<svg" not in _shown_text(text)
    kind, text = preview("notes/blob.bin")
    assert kind == "binary"


def test_a_large_text_file_shows_its_first_part(alice_ui: TestClient, services: Services, team: Team) -> None:
    write_artifact(services, team.run_id, "big.log", b"a" * 300_000 + b"THE-END")
    text = _tab(alice_ui, team, "big.log").text
    assert "The first 256.0 KiB of the file" in text
    shown = _shown_text(text)
    assert len(shown) == 256 * 1024 and "THE-END" not in text


def test_a_csv_is_a_table_of_its_first_rows_and_says_how_many(
    alice_ui: TestClient, services: Services, team: Team
) -> None:
    rows = ["id,name,score"] + [f'{i},"n{i}, with comma",{i / 10}' for i in range(12_345)]
    write_artifact(services, team.run_id, "eval/scores.csv", ("\n".join(rows) + "\n").encode())
    write_artifact(services, team.run_id, "eval/tiny.tsv", b"a\tb\n<b>x</b>\t2\n")
    text = _tab(alice_ui, team, "eval/scores.csv").text
    assert "First 100 of 12,345 rows." in _between(text, "data-table-count>", "</p>")
    table = _between(text, '<table class="data-table" data-preview-table>', "</table>")
    assert re.findall(r'<th scope="col">(.*?)</th>', table) == ["id", "name", "score"]
    body = re.findall(r"<tr>(.*?)</tr>", _between(table, "<tbody>", "</tbody>"))
    assert len(body) == 100
    assert body[1] == "<td>1</td><td>n1, with comma</td><td>0.1</td>"
    tsv = _tab(alice_ui, team, "eval/tiny.tsv").text
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td><td>2</td>" in tsv
    assert "1 row." in tsv


def test_an_mlmodel_shows_its_flavors_and_signature_as_tables(alice_ui: TestClient, team: Team) -> None:
    text = _tab(alice_ui, team, "model/MLmodel").text
    assert _between(text, 'data-preview="', '"') == "mlmodel"
    assert re.findall(r'data-flavor="(.*?)"', text) == ["python_function", "sklearn"]
    inputs = _between(text, 'data-signature="inputs">', "</table>")
    assert re.findall(r"<tr><td>(.*?)</td><td><code>(.*?)</code></td><td>(.*?)</td></tr>", inputs) == [
        ("age", "long", "yes"),
        ("plan", "string", "no"),
    ]
    outputs = _between(text, 'data-signature="outputs">', "</table>")
    assert "<caption>Outputs (tensors)</caption>" in outputs
    assert "<td><code>float64</code></td><td><code>(-1)</code></td>" in outputs
    params = _between(text, 'data-signature="params">', "</table>")
    assert "<td>threshold</td><td><code>double</code></td><td><code>0.5</code></td>" in params


def test_an_image_is_shown_from_the_raw_route_and_only_images_are(
    alice_ui: TestClient, services: Services, team: Team
) -> None:
    write_artifact(services, team.run_id, "plots/roc curve.png", PNG)
    text = _tab(alice_ui, team, "plots/roc curve.png").text
    assert _between(text, 'data-preview="', '"') == "image"
    src = _between(text, '<img class="preview-image" src="', '"')
    assert src == f"/runs/{team.run_id}/artifacts/raw?path=plots/roc%20curve.png"
    image = alice_ui.get(src.replace("&amp;", "&"))
    assert image.status_code == 200
    assert image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert image.headers["content-security-policy"] == "default-src 'none'; sandbox"
    refused = alice_ui.get(f"/runs/{team.run_id}/artifacts/raw", params={"path": "model/MLmodel"})
    assert refused.status_code == 400
    assert "is not an image this page shows" in refused.text


def test_a_download_is_the_file_as_an_attachment(
    alice_ui: TestClient, services: Services, team: Team
) -> None:
    write_artifact(services, team.run_id, "notes/résumé <1>.txt", b"hello")
    answer = alice_ui.get(f"/runs/{team.run_id}/artifacts/download", params={"path": "notes/résumé <1>.txt"})
    assert answer.status_code == 200
    assert answer.content == b"hello"
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-length"] == "5"
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_ <1>.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%3C1%3E.txt"
    )
    folder = alice_ui.get(f"/runs/{team.run_id}/artifacts/download", params={"path": "notes"})
    assert folder.status_code == 400
    assert "is a directory: download it as a zip" in folder.text


def test_a_folder_downloads_as_a_zip_of_its_files(
    alice_ui: TestClient, services: Services, team: Team
) -> None:
    write_artifact(services, team.run_id, "model/sub/deep.txt", b"deep")
    answer = alice_ui.get(f"/runs/{team.run_id}/artifacts/zip", params={"path": "model"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"].startswith('attachment; filename="model.zip"')
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["model/MLmodel", "model/model.pkl", "model/sub/deep.txt"]
        assert archive.read("model/sub/deep.txt") == b"deep"
        assert archive.read("model/model.pkl") == b"\x80\x04not really a pickle\x00"
    whole = alice_ui.get(f"/runs/{team.run_id}/artifacts/zip")
    with zipfile.ZipFile(io.BytesIO(whole.content)) as archive:
        assert sorted(archive.namelist()) == [
            f"run-{team.run_id}-artifacts/model/{n}" for n in ("MLmodel", "model.pkl", "sub/deep.txt")
        ]


def _live_login(client: httpx.Client, creds: UserCreds) -> None:
    csrf = csrf_of(client.get("/login").text)
    data = {"username": creds.username, "password": creds.password, "csrf_token": csrf, "next": "/"}
    assert client.post("/login", data=data).status_code == 303


def test_a_2_gb_file_is_not_previewed_and_its_download_streams(
    services: Services, team: Team, ui_server: LiveServer
) -> None:
    big = _local_root(services, team) / "data" / "huge.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    with big.open("wb") as f:  # sparse: 2 GiB on paper, nothing on disk
        f.truncate(2 * 1024**3)
    os.chmod(big, 0o600)
    with httpx.Client(base_url=ui_server.url, timeout=30) as client:
        _live_login(client, team.alice)
        page = client.get(f"/runs/{team.run_id}", params={"tab": "artifacts", "path": "data/huge.bin"})
        assert page.status_code == 200
        refused = _between(page.text, "data-preview-refused>", "</p>")
        assert refused.startswith("No preview: this file is 2.0 GiB, over the 50.0 MiB the page previews.")
        got = 0
        with client.stream(
            "GET", f"/runs/{team.run_id}/artifacts/download", params={"path": "data/huge.bin"}
        ) as r:
            assert r.status_code == 200
            assert r.headers["content-length"] == str(2 * 1024**3)
            for chunk in r.iter_bytes():
                assert chunk == bytes(len(chunk))
                got += len(chunk)
                if got >= 8 * 1024**2:
                    break  # the first 8 MiB came while the server had read no more than a few chunks
        assert got >= 8 * 1024**2


def test_a_model_folder_is_registered_and_the_page_goes_to_the_new_version(
    alice_ui: TestClient, services: Services, admin: Principal, team: Team
) -> None:
    csrf = csrf_of(_tab(alice_ui, team, "model"))
    url = f"/runs/{team.run_id}/artifacts/register"
    answer = alice_ui.post(
        url, data={"csrf_token": csrf, "path": "model", "name": "churn"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/models/churn/versions/2"
    version = services.registry.get_model_version(admin, "churn", 2)
    assert (version.source, version.run_id, version.user_id) == (
        f"runs:/{team.run_id}/model",
        team.run_id,
        "alice",
    )
    answer = alice_ui.post(
        url, data={"csrf_token": csrf, "path": "model", "name": "churn v2 é"}, follow_redirects=False
    )
    assert answer.headers["location"] == "/models/churn%20v2%20%C3%A9/versions/1"
    assert (
        services.registry.get_registered_model(admin, "churn v2 é").group_id
        == services.run_details.details(admin, team.run_id).group_id
    )  # a new model is created in the run's group
    events, _ = services.audit.query(admin, resource_type="registered_model", user="alice", action="create")
    assert len(events) >= 2


def test_registering_refusals_are_shown_on_the_form(
    user_ui: Callable[[UserCreds], TestClient], services: Services, admin: Principal, team: Team
) -> None:
    alice = user_ui(team.alice)
    csrf = csrf_of(_tab(alice, team, "model"))
    url = f"/runs/{team.run_id}/artifacts/register"
    answer = alice.post(url, data={"csrf_token": csrf, "path": "model", "name": "  "})
    assert answer.status_code == 400
    assert "Give the model a name" in _between(answer.text, "data-register-error>", "</p>")
    assert "data-preview" not in answer.text or "data-register-form" in answer.text
    answer = alice.post(url, data={"csrf_token": csrf, "path": "notes", "name": "x"})
    assert answer.status_code == 400
    assert "has no model at artifact path &#39;notes&#39;" in answer.text
    vera = user_ui(team.vera)
    csrf = csrf_of(_tab(vera, team, "model"))
    answer = vera.post(url, data={"csrf_token": csrf, "path": "model", "name": "vera-model"})
    assert answer.status_code == 403
    assert 'value="vera-model"' in answer.text  # what was typed stays in the form
    assert "role" in _between(answer.text, "data-register-error>", "</p>")
    assert services.registry.search_registered_models(admin, filter_string="name = 'vera-model'")[0] == []


def test_artifact_names_and_contents_are_escaped(
    alice_ui: TestClient, services: Services, team: Team
) -> None:
    name = 'x"><img src=x onerror="window.__xss=1">.txt'
    write_artifact(services, team.run_id, name, XSS_SCRIPT.encode())
    listing = _tab(alice_ui, team).text
    assert XSS_IMG not in listing and "<img src=x" not in listing
    page = _tab(alice_ui, team, name).text
    assert XSS_SCRIPT not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
