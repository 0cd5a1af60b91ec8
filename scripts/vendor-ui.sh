#!/usr/bin/env bash
# Re-vendor the web UI's third-party JavaScript and CSS from npm: htmx and uPlot, at the versions
# pinned below. Writes the files under src/modelyard/ui/static/vendor/ with their licences, and
# VENDORED.json there: package, version, the npm tarball's integrity and each file's sha256 (checked
# by tests/ui/test_vendored.py). Run it by hand to change a version; the result is committed, so
# `pip install` and CI never run npm.
set -euo pipefail
cd "$(dirname "$0")/.."
HTMX_VERSION=2.0.11
UPLOT_VERSION=1.6.9
out=src/modelyard/ui/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v npm >/dev/null || { echo "vendor-ui: npm is needed to fetch the packages" >&2; exit 1; }
echo "vendor-ui: fetching htmx.org@$HTMX_VERSION and uplot@$UPLOT_VERSION"
(cd "$work" && npm pack --silent --json "htmx.org@$HTMX_VERSION" "uplot@$UPLOT_VERSION" > packs.json)
for tgz in "$work"/*.tgz; do
  mkdir -p "$work/$(basename "$tgz" .tgz)"
  tar xzf "$tgz" -C "$work/$(basename "$tgz" .tgz)"
done
htmx="$work/htmx.org-$HTMX_VERSION/package"
uplot="$work/uplot-$UPLOT_VERSION/package"
rm -rf "$out"
mkdir -p "$out/htmx" "$out/uplot"
cp "$htmx/dist/htmx.min.js" "$htmx/LICENSE" "$out/htmx/"
cp "$uplot/dist/uPlot.iife.min.js" "$uplot/dist/uPlot.min.css" "$uplot/LICENSE" "$out/uplot/"
python3 - "$work/packs.json" "$out" <<'PY'
import hashlib, json, sys
from pathlib import Path

packs = {p["name"]: p for p in json.loads(Path(sys.argv[1]).read_text())}
out = Path(sys.argv[2])
folders = {"htmx.org": "htmx", "uplot": "uplot"}
record = {"about": "Third-party files vendored by scripts/vendor-ui.sh from npm; do not edit by hand.",
          "packages": []}
for name, folder in folders.items():
    files = sorted((out / folder).iterdir())
    record["packages"].append({
        "name": name,
        "version": packs[name]["version"],
        "integrity": packs[name]["integrity"],
        "license": "see LICENSE in the folder",
        "files": {f"{folder}/{f.name}": hashlib.sha256(f.read_bytes()).hexdigest() for f in files},
    })
(out / "VENDORED.json").write_text(json.dumps(record, indent=2) + "\n")
PY
echo "vendor-ui: wrote $out (see $out/VENDORED.json)"
