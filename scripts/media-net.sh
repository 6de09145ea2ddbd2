#!/usr/bin/env bash
# The loopback-range media interface for tests (see docs/media.md): ICE skips loopback interfaces,
# so Janus and the test peers get a veth pair whose end mkv0 carries 127.0.0.5/32. Traffic between
# 127.0.0.5 and 127.0.0.5 never leaves the machine. Idempotent; needs root (CI runs as root).
set -euo pipefail

ADDR="${MEETKIT_MEDIA_TEST_ADDR:-127.0.0.5}"
IF_A=mkv0
IF_B=mkv1

if [ "$(id -u)" -ne 0 ]; then
  echo "media-net: must run as root" >&2
  exit 1
fi

changed=0
if ! ip link show "$IF_A" >/dev/null 2>&1; then
  ip link add "$IF_A" type veth peer name "$IF_B"
  echo "media-net: created veth pair $IF_A/$IF_B"
  changed=1
fi
# Keep the pair quiet: no IPv6 link-local chatter (best effort; some sandboxes forbid the sysctl).
for dev in "$IF_A" "$IF_B"; do
  sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" >/dev/null 2>&1 || true
done
if ! ip -4 addr show dev "$IF_A" | grep -qF " $ADDR/32 "; then
  ip addr add "$ADDR/32" dev "$IF_A"
  echo "media-net: added $ADDR/32 to $IF_A"
  changed=1
fi
for dev in "$IF_A" "$IF_B"; do
  if ! ip link show "$dev" | grep -q "state UP\|,UP"; then
    ip link set "$dev" up
    echo "media-net: set $dev up"
    changed=1
  fi
done

if [ "$changed" -eq 0 ]; then
  echo "media-net: $IF_A ($ADDR/32) already in place"
else
  echo "media-net: $IF_A ($ADDR/32) ready"
fi
