"""The vendored third-party files are exactly what scripts/vendor-ui.sh recorded."""

from __future__ import annotations

import hashlib
import json

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
