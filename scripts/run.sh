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
exec .venv/bin/meetkit serve --host "${MEETKIT_HOST:-127.0.0.1}" --port "${MEETKIT_PORT:-8080}" "$@"
