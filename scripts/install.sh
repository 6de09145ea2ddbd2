#!/usr/bin/env bash
# Install meetkit into ./.venv. `scripts/install.sh` for running, `scripts/install.sh dev` for testing.
# Installs the Debian packages it needs when they are missing (runs as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PYTHON="${PYTHON:-python3}"

if ! command -v "$PYTHON" >/dev/null 2>&1 || ! "$PYTHON" -c "import venv, ensurepip" >/dev/null 2>&1; then
  echo "install: installing python3 and python3-venv"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  PYTHON=python3
fi
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "meetkit needs Python 3.11 or newer"'

# The media server (Janus, run by meetkit with its own configuration), the TURN server (coturn, run by
# meetkit in MEETKIT_TURN_MODE=managed, also with its own configuration) and the recording tools.
# The tests of a deployment on several machines start redis-servers and an haproxy of their own.
packages=(janus janus-tools coturn ffmpeg)
if [ "${1:-}" = "dev" ]; then packages+=(redis-server haproxy espeak-ng); fi
missing=()
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts a system Janus with its stock (public) secrets; meetkit runs its own and needs none.
# Debian's coturn service likewise (its /etc/turnserver.conf is not meetkit's): neither is relied on.
for service in janus coturn; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled "$service" >/dev/null 2>&1; then
    $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>/dev/null || true
if [ "${1:-}" = "dev" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
# The meeting page as one file (esbuild from npm); without it the page loads its ~45 modules one by one.
bash scripts/build-ui.sh || echo "install: the meeting page's bundle was not built (scripts/build-ui.sh): the page loads its modules one by one"
echo "install: meetkit $(.venv/bin/python -c 'import meetkit; print(meetkit.__version__)') in .venv"
