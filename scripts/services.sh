#!/usr/bin/env bash
# Make sure the services the test suite needs are installed and running: PostgreSQL (with a
# `meetkit` role that may create databases), Node.js + npm for the Node SDK compatibility test and axe-core, Chromium
# for the browser tests, firefox-esr for the Firefox test, the loopback media link, and a one-node Ceph RGW as the S3-compatible server.
# Idempotent; runs as root (CI does) or with sudo available.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "services: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

command -v pg_ctlcluster >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 || apt_install postgresql postgresql-client
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
# The browser of the end-to-end tests (driven by Playwright with executable_path, never downloaded).
command -v chromium >/dev/null 2>&1 || apt_install chromium
# Firefox for tests/e2e/test_e2e_firefox.py (Debian's ESR, driven by puppeteer-core, never downloaded).
command -v firefox-esr >/dev/null 2>&1 || apt_install firefox-esr
# axe-core for the accessibility check of tests/e2e/test_e2e_ui.py and puppeteer-core for the
# Firefox driver (tests/ui/firefox_driver.mjs), from the lock file (once).
ui_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/ui"
if [ ! -f "$ui_tests/node_modules/axe-core/axe.min.js" ] || [ ! -d "$ui_tests/node_modules/puppeteer-core" ]; then
  (cd "$ui_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The loopback-range link Janus offers ICE candidates on (docs/media.md); needs root.
if [ "$(id -u)" -eq 0 ]; then bash "$(dirname "$0")/media-net.sh"; else $SUDO bash "$(dirname "$0")/media-net.sh"; fi
# The S3-compatible server of tests/storage/test_s3_store.py (Ceph RGW on 127.0.0.1:17480); needs root.
if [ "$(id -u)" -eq 0 ]; then bash "$(dirname "$0")/s3-server.sh"; else $SUDO bash "$(dirname "$0")/s3-server.sh"; fi

# Start the cluster if it is not running.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || $SUDO pg_ctlcluster "$version" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
pg_isready -h 127.0.0.1 -p 5432

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

# A role for the tests, with a password so it works under both trust and scram auth.
as_postgres psql -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'meetkit') THEN
    CREATE ROLE meetkit LOGIN CREATEDB PASSWORD 'meetkit';
  ELSE
    ALTER ROLE meetkit LOGIN CREATEDB PASSWORD 'meetkit';
  END IF;
END $$;
SQL
echo "services: PostgreSQL ready (role meetkit)"
