#!/usr/bin/env bash
# Make sure Debian's chromium is installed at /usr/bin/chromium for the browser tests (tests/ui),
# which drive it with Playwright (pinned in the test extra to the release whose own Chromium has the
# same major version). Never `playwright install`: the browser comes from Debian's packages only.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-chromium: /usr/bin/chromium is missing and cannot be installed here (needs root and" \
    "apt-get); the browser tests will be skipped" >&2
  exit 0
fi
echo "ensure-chromium: installing Debian's chromium for the browser tests (apt-get, a minute or two)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version 2>/dev/null || true
