#!/usr/bin/env bash
# Build the meeting page's bundle and the whiteboard: esbuild (npm, pinned in ui/package-lock.json) joins
# web/static/meeting.js and the modules it imports into web/static/dist/meeting.js, stamped with the
# sources' digest (src/meetkit/web/bundle.py serves it only while the stamp matches). Without it the
# page loads the modules one by one, which works but joins slower (docs/ui.md "Loading").
# The whiteboard (ui/excalidraw/board.js: Excalidraw and React from the npm registry, pinned in the same
# lock file) goes to web/excalidraw/ with Excalidraw's fonts, so the board loads nothing from a CDN.
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

board=src/meetkit/web/excalidraw
rm -rf "$board"
ui/node_modules/.bin/esbuild ui/excalidraw/board.js --bundle --splitting --format=esm --minify --target=es2022 \
  --conditions=production --define:process.env.NODE_ENV='"production"' --legal-comments=linked \
  --loader:.woff2=file --entry-names='[name]' --chunk-names='chunks/[name]-[hash]' --asset-names='assets/[name]-[hash]' \
  --log-level=error --outdir="$board"
cp -r ui/node_modules/@excalidraw/excalidraw/dist/prod/fonts "$board/fonts"
# Excalidraw lists a CDN (esm.sh) after our own path in every font's sources. The page's CSP refuses it
# (nothing leaves the machine), but Chromium reports each refused source, ~900 of them; pointing that
# fallback at meetkit itself keeps the console clean. A new Excalidraw without the string fails here.
cdn_chunk=$(grep -l 'ASSETS_FALLBACK_URL",`https://esm.sh/' "$board"/chunks/*.js)
sed -i 's#ASSETS_FALLBACK_URL",`https://esm.sh/#ASSETS_FALLBACK_URL",`${location.origin}/_meetkit/excalidraw/fallback/#' "$cdn_chunk"
echo "build-ui: $board/board.js ($(du -sh "$board" | cut -f1) with its chunks and fonts)"
echo "build-ui: $static/dist/meeting.js ($(wc -c < "$static/dist/meeting.js") bytes)"
