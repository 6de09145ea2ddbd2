#!/usr/bin/env bash
# Install, migrate, make sure there is a first application (its keys are printed), and serve.
# Settings come from the environment or .env (see docs/configuration.md); defaults: SQLite in ./data,
# http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
.venv/bin/meetkit migrate

if [ "$(.venv/bin/meetkit app list)" = "[]" ]; then
  echo "run: creating a first application"
  .venv/bin/meetkit app create --name default | tee "${MEETKIT_DATA_DIR:-./data}/first-application.json"
else
  echo "run: applications:"
  .venv/bin/meetkit app list
fi
if [ -f "${MEETKIT_DATA_DIR:-./data}/first-application.json" ]; then
  echo "run: first application: $(cat "${MEETKIT_DATA_DIR:-./data}/first-application.json")"
fi

# Meeting links start with the public URL: by default, where this server listens.
export MEETKIT_PUBLIC_URL="${MEETKIT_PUBLIC_URL:-http://${MEETKIT_HOST:-127.0.0.1}:${MEETKIT_PORT:-8080}}"
echo "run: meeting links start with $MEETKIT_PUBLIC_URL (set MEETKIT_PUBLIC_URL behind a proxy)"
# What browsers on other machines must reach (docs/media.md, "Firewall").
echo "run: firewall: open UDP ${MEETKIT_MEDIA_RTP_PORTS:-20000-40000} (Janus media) and the HTTP(S) port"
case "${MEETKIT_TURN_MODE:-}" in
  managed)
    echo "run: firewall (TURN): open UDP and TCP ${MEETKIT_TURN_PORT:-3478}" \
      "${MEETKIT_TURN_TLS_CERT:+and TCP ${MEETKIT_TURN_TLS_PORT:-5349} (TURN over TLS) }to browsers;" \
      "(relay ports UDP ${MEETKIT_TURN_RELAY_PORTS:-49152-65535}: only Janus talks to them)" ;;
  off) echo "run: TURN off: browsers behind UDP-blocking firewalls get no media (MEETKIT_TURN_MODE=managed)" ;;
  *) if [ -z "${MEETKIT_TURN_URLS:-}" ]; then
       echo "run: TURN off: browsers behind UDP-blocking firewalls get no media (MEETKIT_TURN_MODE=managed)"
     fi ;;
esac
exec .venv/bin/meetkit serve --host "${MEETKIT_HOST:-127.0.0.1}" --port "${MEETKIT_PORT:-8080}" "$@"
