#!/usr/bin/env bash
# Build the meeting page's bundle: esbuild (npm, pinned in ui/package-lock.json) joins
# web/static/meeting.js and the modules it imports into web/static/dist/meeting.js, stamped with the
# sources' digest (src/meetkit/web/bundle.py serves it only while the stamp matches). Without it the
# page loads the modules one by one, which works but joins slower (docs/ui.md "Loading").
# Called by scripts/install.sh; run it again after editing web/static/ (or the page loads the modules).
set -euo pipefail
cd "$(dirname "$0")/.."
static=src/meetkit/web/static

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "build-ui: installing nodejs and npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
(cd ui && npm ci --no-audit --no-fund --loglevel=error)
rm -rf "$static/dist"
ui/node_modules/.bin/esbuild "$static/meeting.js" --bundle --format=esm --minify --target=es2022 \
  --legal-comments=none --log-level=warning --outfile="$static/dist/meeting.js"
.venv/bin/python -m meetkit.web.bundle "$static"
echo "build-ui: $static/dist/meeting.js ($(wc -c < "$static/dist/meeting.js") bytes)"
