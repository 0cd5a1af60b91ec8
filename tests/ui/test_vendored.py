"""The vendored third-party files are exactly what scripts/vendor-ui.sh recorded, and a wheel
carries every file of the UI."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

from modelyard.ui import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"


def test_vendored_files_match_their_record() -> None:
    record = json.loads((VENDOR / "VENDORED.json").read_text())
    names = {p["name"]: p["version"] for p in record["packages"]}
    assert names["htmx.org"].startswith("2.0.")
    assert names["uplot"].startswith("1.6.")
    listed = set()
    for package in record["packages"]:
        for name, digest in package["files"].items():
            listed.add(name)
            assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    on_disk = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()} - {"VENDORED.json"}
    assert on_disk == listed, "files under vendor/ that the record does not list (or the other way)"


def test_package_data_covers_every_ui_file() -> None:
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["modelyard"]
    package = root / "src" / "modelyard"
    packaged = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    ui_files = {p for p in (package / "ui").rglob("*") if p.is_file() and p.suffix != ".py"}
    ui_files = {p for p in ui_files if "__pycache__" not in p.parts}
    assert ui_files, "no UI files found"
    assert ui_files <= packaged, sorted(str(p) for p in ui_files - packaged)
