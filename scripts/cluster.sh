#!/usr/bin/env bash
# A meetkit deployment on this machine's loopback, to try several machines on one (docs/scale-out.md):
# PostgreSQL (the local server, database meetkit_cluster), a Redis of its own, three meetkit nodes and
# haproxy in front of them with deploy/haproxy.cfg.
#
#   bash scripts/cluster.sh start     # then open http://127.0.0.1:18080 links (MEETKIT_CLUSTER_PORT)
#   bash scripts/cluster.sh status
#   bash scripts/cluster.sh stop
#
# The nodes share a pool of two Janus servers (MEETKIT_JANUS_URLS), each run by `meetkit janus run`;
# `bash scripts/cluster.sh media list` (or `drain NAME`) runs `meetkit media …` with the nodes'
# settings. Everything lives in data/cluster/ (logs, pids, the nodes' and Janus' data folders, the
# deployment's shared secret and the pool's admin key).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="$PWD/data/cluster"
FRONT="${MEETKIT_CLUSTER_PORT:-18080}"
REDIS_PORT="${MEETKIT_CLUSTER_REDIS_PORT:-16379}"
NODES=(1 2 3)
JANUS=(1 2)
DB_NAME=meetkit_cluster
# The meetkit role scripts/services.sh makes (it may create databases).
PG="postgresql://meetkit:meetkit@127.0.0.1:5432"
DB_URL="postgresql+asyncpg://meetkit:meetkit@127.0.0.1:5432/$DB_NAME"

node_port() { echo $((FRONT + $1)); }
pool_urls() {
  local out=""
  for j in "${JANUS[@]}"; do out+="${out:+,}janus-$j=ws://127.0.0.1:$((18180 + j))"; done
  echo "$out"
}

media() {  # meetkit media … with the nodes' settings
  env MEETKIT_DATA_DIR="$DIR/node-1" MEETKIT_DATABASE_URL="$DB_URL" MEETKIT_SECRET_KEY="$(cat "$DIR/secret.key")" \
      MEETKIT_MEDIA_MODE=external MEETKIT_JANUS_URLS="$(pool_urls)" MEETKIT_JANUS_ADMIN_KEY="$(cat "$DIR/janus.key")" \
      .venv/bin/meetkit media "$@"
}

stop() {
  for pidfile in "$DIR"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  echo "cluster: stopped"
}

status() {
  for n in "${NODES[@]}"; do
    printf 'node-%s  http://127.0.0.1:%s  ' "$n" "$(node_port "$n")"
    curl -s -m 2 "http://127.0.0.1:$(node_port "$n")/readyz" || printf 'down'
    echo
  done
  printf 'front   http://127.0.0.1:%s  ' "$FRONT"
  curl -s -m 2 "http://127.0.0.1:$FRONT/readyz" || printf 'down'
  echo
  media list 2>/dev/null || true
}

wait_ready() {  # url seconds
  for _ in $(seq 1 $(($2 * 10))); do
    if curl -s -f -m 2 "$1/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

start() {
  [ -x .venv/bin/meetkit ] || bash scripts/install.sh
  for cmd in redis-server haproxy psql; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "cluster: $cmd is missing (bash scripts/install.sh dev)"; exit 1; }
  done
  mkdir -p "$DIR"
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "cluster: PostgreSQL is not running on 127.0.0.1:5432 (bash scripts/services.sh)"; exit 1; }
  if ! psql "$PG/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    psql "$PG/postgres" -qc "CREATE DATABASE $DB_NAME"
  fi
  [ -f "$DIR/secret.key" ] || (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n=/+' > "$DIR/secret.key")
  [ -f "$DIR/janus.key" ] || (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n=/+' > "$DIR/janus.key")

  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
    --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"

  # The pool: Janus N on websockets 1818N, admin 1828N, media 2N000-2N999.
  for j in "${JANUS[@]}"; do
    mkdir -p "$DIR/janus-$j"
    env MEETKIT_DATA_DIR="$DIR/janus-$j" MEETKIT_JANUS_ADMIN_KEY="$(cat "$DIR/janus.key")" \
        MEETKIT_JANUS_WS_PORT="$((18180 + j))" MEETKIT_JANUS_ADMIN_PORT="$((18280 + j))" \
        MEETKIT_MEDIA_RTP_PORTS="$((20000 + j * 1000))-$((20999 + j * 1000))" \
        MEETKIT_JANUS_RECLAIM_SECONDS=30 \
        nohup .venv/bin/meetkit janus run > "$DIR/janus-$j.out" 2>&1 &
    echo $! > "$DIR/janus-$j.pid"
  done

  for n in "${NODES[@]}"; do
    port=$(node_port "$n")
    mkdir -p "$DIR/node-$n"
    env MEETKIT_DATA_DIR="$DIR/node-$n" \
        MEETKIT_DATABASE_URL="$DB_URL" \
        MEETKIT_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
        MEETKIT_NODE_ID="node-$n" \
        MEETKIT_SECRET_KEY="$(cat "$DIR/secret.key")" \
        MEETKIT_PUBLIC_URL="http://127.0.0.1:$FRONT" \
        MEETKIT_MEDIA_MODE=external MEETKIT_JANUS_URLS="$(pool_urls)" MEETKIT_JANUS_ADMIN_KEY="$(cat "$DIR/janus.key")" \
        nohup .venv/bin/meetkit serve --host 127.0.0.1 --port "$port" > "$DIR/node-$n.log" 2>&1 &
    echo $! > "$DIR/node-$n.pid"
    # The first node migrates the database; the others start once it has.
    [ "$n" -eq 1 ] && { wait_ready "http://127.0.0.1:$port" 60 || { echo "cluster: node-1 did not start (see $DIR/node-1.log)"; exit 1; }; }
  done
  for n in "${NODES[@]}"; do
    wait_ready "http://127.0.0.1:$(node_port "$n")" 60 || { echo "cluster: node-$n did not start (see $DIR/node-$n.log)"; exit 1; }
  done

  # deploy/haproxy.cfg with loopback binds and servers, plain HTTP (no certificate here).
  servers=""
  for n in "${NODES[@]}"; do servers+="    server node$n 127.0.0.1:$(node_port "$n")\n"; done
  sed -e "s#^    bind :443 .*#    bind 127.0.0.1:$FRONT#" -e '/^    bind :80$/d' \
      -e '/http-request redirect scheme https/d' -e '/log stdout format raw local0/d' \
      -e 's/maxconn 50000/maxconn 4000/' -e '/^    server node/d' deploy/haproxy.cfg \
    | awk -v s="$servers" '{print} /^    default-server /{printf "%s", s}' > "$DIR/haproxy.cfg"
  haproxy -c -q -f "$DIR/haproxy.cfg"
  haproxy -D -p "$DIR/haproxy.pid" -f "$DIR/haproxy.cfg"
  wait_ready "http://127.0.0.1:$FRONT" 20 || { echo "cluster: haproxy did not see a ready node"; exit 1; }

  if [ ! -f "$DIR/first-application.json" ]; then
    MEETKIT_DATA_DIR="$DIR/node-1" MEETKIT_DATABASE_URL="$DB_URL" \
      MEETKIT_SECRET_KEY="$(cat "$DIR/secret.key")" \
      .venv/bin/meetkit app create --name cluster > "$DIR/first-application.json"
  fi
  echo "cluster: 3 nodes behind http://127.0.0.1:$FRONT (application: $DIR/first-application.json)"
  status
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  media) shift; media "$@" ;;
  *) echo "usage: $0 start|stop|status|media list|drain NAME|undrain NAME"; exit 2 ;;
esac
