#!/usr/bin/env bash
# A real S3-compatible server on loopback for the object-store tests: Ceph's RADOS Gateway (Debian's
# radosgw) on a one-node Ceph cluster (one monitor, one BlueStore OSD on a sparse file), everything
# bound to 127.0.0.1. Debian 12's Ceph (16.x) has no standalone "dbstore" backend, so the gateway
# needs the cluster. It creates a test user and writes its endpoint and keys to
# $MEETKIT_S3_DIR/credentials.env (MEETKIT_TEST_S3_* lines, mode 600), which tests/storage/test_s3_store.py
# reads. Idempotent: installs what is missing, starts what is not running, reuses the cluster and the
# user it made before. Needs root. See docs/configuration.md (Object storage).
set -euo pipefail

DIR="${MEETKIT_S3_DIR:-/var/lib/meetkit-s3}"
MON_PORT="${MEETKIT_S3_MON_PORT:-13300}"
RGW_PORT="${MEETKIT_S3_PORT:-17480}"
USER_ID="meetkit-test"
CONF="$DIR/ceph.conf"
CREDS="$DIR/credentials.env"
ENDPOINT="http://127.0.0.1:$RGW_PORT"

if [ "$(id -u)" -ne 0 ]; then
  echo "s3-server: must run as root" >&2
  exit 1
fi

missing=()
for pkg in radosgw ceph-mon ceph-osd; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "s3-server: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

ceph_() { timeout 30 ceph -c "$CONF" -n client.admin -k "$DIR/admin.keyring" "$@"; }

# Waits (bounded) until a command succeeds.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "s3-server: $what not ready after ${seconds}s (logs: $DIR/log)" >&2
      exit 1
    fi
    sleep 1
  done
}

running() { [ -f "$DIR/run/$1.pid" ] && kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null; }

if [ ! -f "$DIR/.created" ]; then
  echo "s3-server: creating a one-node Ceph cluster in $DIR"
  rm -rf "$DIR"
  mkdir -p "$DIR"/{mon,osd,rgw,run,log}
  chmod 700 "$DIR"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$MON_PORT
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv4 = true
ms_bind_ipv6 = false
ms_bind_msgr1 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
run_dir = $DIR/run
log_file = $DIR/log/\$name.log
pid_file = $DIR/run/\$name.pid
admin_socket = $DIR/run/\$name.asok
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 5
mon_data_avail_crit = 2
[mon]
mon_data = $DIR/mon
keyring = $DIR/mon.keyring
[osd]
osd_data = $DIR/osd
keyring = $DIR/osd/keyring
osd_objectstore = bluestore
bluestore_block_path = $DIR/osd-block
bluestore_block_create = true
bluestore_block_size = 8589934592
osd_memory_target = 1073741824
[client.admin]
keyring = $DIR/admin.keyring
[client.rgw]
keyring = $DIR/rgw/keyring
rgw_data = $DIR/rgw
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
EOF
  ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$DIR/admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/admin.keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring"
  ceph-mon -c "$CONF" -i a 2>>"$DIR/log/start.log"
  wait_for "monitor" 60 ceph_ -s
  osd_id=$(ceph_ osd create)
  ceph_ auth get-or-create "osd.$osd_id" mon 'allow profile osd' osd 'allow *' mgr 'allow profile osd' \
    -o "$DIR/osd/keyring"
  ceph-osd -c "$CONF" -i "$osd_id" --mkfs >"$DIR/log/osd-mkfs.log" 2>&1
  ceph_ osd crush add "osd.$osd_id" 1.0 host=localhost root=default >/dev/null 2>>"$DIR/log/start.log"
  ceph_ auth get-or-create client.rgw mon 'allow rw' osd 'allow rwx' -o "$DIR/rgw/keyring"
  touch "$DIR/.created"
fi

running mon.a || ceph-mon -c "$CONF" -i a 2>>"$DIR/log/start.log"
wait_for "monitor" 60 ceph_ -s
running osd.0 || ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/start.log"
wait_for "OSD" 120 bash -c "timeout 30 ceph -c '$CONF' -n client.admin -k '$DIR/admin.keyring' osd stat | grep -q '1 up'"
running client.rgw || radosgw -c "$CONF" -n client.rgw 2>>"$DIR/log/start.log"
wait_for "RADOS Gateway on $ENDPOINT" 180 curl -sf -m 2 "$ENDPOINT/"

if [ ! -f "$CREDS" ]; then
  access=$(head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F')
  secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')
  timeout 60 radosgw-admin -c "$CONF" -n client.admin -k "$DIR/admin.keyring" user create --uid="$USER_ID" \
    --display-name="meetkit tests" --access-key="$access" --secret-key="$secret" >/dev/null
  umask 077
  cat >"$CREDS.tmp" <<EOF
MEETKIT_TEST_S3_ENDPOINT_URL=$ENDPOINT
MEETKIT_TEST_S3_REGION=us-east-1
MEETKIT_TEST_S3_ACCESS_KEY_ID=$access
MEETKIT_TEST_S3_SECRET_ACCESS_KEY=$secret
EOF
  mv "$CREDS.tmp" "$CREDS"
fi

echo "s3-server: RADOS Gateway ready at $ENDPOINT (user $USER_ID; endpoint and keys in $CREDS)"
