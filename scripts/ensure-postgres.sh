#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for user postgres with trust auth.
# Starts the local cluster if it is installed but down; installs it from Debian's packages if missing.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null && ready; then exit 0; fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL not installed: installing it (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
conf=/etc/postgresql/$version/main
# Trust local loopback connections for the test user (a scratch database on a developer/CI machine).
if ! grep -q "modelyard-tests" "$conf/pg_hba.conf"; then
  sed -i '1i host all all 127.0.0.1/32 trust # modelyard-tests\nhost all all ::1/128 trust # modelyard-tests' "$conf/pg_hba.conf"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start || true
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1
