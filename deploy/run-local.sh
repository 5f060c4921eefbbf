#!/usr/bin/env bash
# The stack as local processes (`make run`): identity on 127.0.0.1:8001, items on :8002, and the
# nginx gateway (nginx from PATH) on 127.0.0.1:8080 in front of both; identity's event relay
# (metrics on 127.0.0.1:9101) and items' event consumer (metrics on :9102) next to them, and
# identity's mail worker (the console backend by default: mails are printed here).
# Embedded SQLite under var/ unless IDENTITY_DATABASE_URL / ITEMS_DATABASE_URL say otherwise.
# Migrations are applied first; each service's housekeeping (its prune commands, hourly) runs
# next to it. Ctrl-C (SIGINT) or SIGTERM stops every process cleanly.
# RUN_LOCAL_SERVICES picks which of `identity items gateway relay consumer mailer` to start
# (default: all six), so one of them can run, stop and restart on its own (a debugger, the e2e
# drills). `identity` and `items` migrate their databases; `relay`, `consumer` and `mailer` use
# them as they are, so start them with their service or after it.
# Integration events: EVENTS_BROKER_URL (e.g. amqp://guest:guest@127.0.0.1:5672/) becomes both
# services' broker unless IDENTITY_EVENTS_BROKER_URL / ITEMS_EVENTS_BROKER_URL are set; with
# neither, both use the embedded transport on var/events.db, so the relay and the consumer
# exchange events without any broker. RELAY_METRICS_PORT / CONSUMER_METRICS_PORT move the metrics.
# GATEWAY_DIR is where the gateway's configuration is rendered (default var/gateway).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=".venv/bin"
[ -x "$bin/gunicorn" ] || { echo "run 'make install' first" >&2; exit 1; }
services=" ${RUN_LOCAL_SERVICES:-identity items gateway relay consumer mailer} "
wants() { [[ "$services" == *" $1 "* ]]; }
if wants gateway; then
  nginx_bin=$(command -v nginx || command -v /usr/sbin/nginx || true)
  [ -n "$nginx_bin" ] || { echo "nginx not found: apt-get install nginx" >&2; exit 1; }
fi

IDENTITY_PORT=${IDENTITY_PORT:-8001}
ITEMS_PORT=${ITEMS_PORT:-8002}
export ITEMS_JWKS_URL=${ITEMS_JWKS_URL:-http://127.0.0.1:${IDENTITY_PORT}/.well-known/jwks.json}
# The services sit behind exactly one proxy, the gateway: believe its X-Forwarded-* (client
# address, scheme, host, the docs prefix). They still listen on 127.0.0.1 only.
export IDENTITY_TRUSTED_PROXY_COUNT=${IDENTITY_TRUSTED_PROXY_COUNT:-1}
export ITEMS_TRUSTED_PROXY_COUNT=${ITEMS_TRUSTED_PROXY_COUNT:-1}
if [ -n "${EVENTS_BROKER_URL:-}" ]; then
  export IDENTITY_EVENTS_BROKER_URL=${IDENTITY_EVENTS_BROKER_URL:-$EVENTS_BROKER_URL}
  export ITEMS_EVENTS_BROKER_URL=${ITEMS_EVENTS_BROKER_URL:-$EVENTS_BROKER_URL}
fi
RELAY_METRICS_PORT=${RELAY_METRICS_PORT:-9101}
CONSUMER_METRICS_PORT=${CONSUMER_METRICS_PORT:-9102}

# The gateway's configuration: the same template the container renders (see gateway/render.py).
gateway_dir=${GATEWAY_DIR:-$PWD/var/gateway}
GATEWAY_LISTEN=${GATEWAY_LISTEN:-127.0.0.1:8080}
if wants gateway; then
  IDENTITY_UPSTREAM="127.0.0.1:${IDENTITY_PORT}" ITEMS_UPSTREAM="127.0.0.1:${ITEMS_PORT}" \
    GATEWAY_LISTEN="$GATEWAY_LISTEN" "$bin/python" gateway/render.py --out "$gateway_dir" >/dev/null
  "$nginx_bin" -q -t -p "$gateway_dir/" -c "$gateway_dir/nginx.conf"
fi

if wants identity; then "$bin/flask" --app identity db upgrade; fi
if wants items; then "$bin/flask" --app items db upgrade; fi

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; fi
  done
  wait
}
trap stop INT TERM EXIT

serve() {  # serve PORT APP: each gunicorn gets its own metrics directory (set by its config)
  env -u PROMETHEUS_MULTIPROC_DIR "$bin/gunicorn" -c python:service_kit.gunicorn_config \
    -b "127.0.0.1:$1" "$2" &
  pids+=($!)
}
# Each service's housekeeping runs with it, as in docker compose: its prune commands at start
# and then every HOUSEKEEPING_INTERVAL_SECONDS (default 3600), one log line per command and run.
housekeep() {  # housekeep APP COMMAND... [';' COMMAND...]: flask commands of APP, run in turn
  local app=$1 word
  shift
  local argv=("$bin/flask" --app "$app")
  for word in "$@"; do
    if [[ "$word" == ";" ]]; then argv+=(";" "$bin/flask" --app "$app"); else argv+=("$word"); fi
  done
  "$bin/python" -m service_kit.housekeeping -- "${argv[@]}" &
  pids+=($!)
}
if wants identity; then
  serve "$IDENTITY_PORT" 'identity:create_app()'
  housekeep identity tokens prune ';' events prune ';' audit prune
fi
if wants items; then
  serve "$ITEMS_PORT" 'items:create_app()'
  housekeep items idempotency prune ';' events prune
fi
# The integration events: identity's outbox relay and items' consumer, each a process of its own.
if wants relay; then
  "$bin/flask" --app identity events relay --metrics-port "$RELAY_METRICS_PORT" &
  pids+=($!)
fi
if wants consumer; then
  "$bin/flask" --app items events consume --metrics-port "$CONSUMER_METRICS_PORT" &
  pids+=($!)
fi
# identity's mail worker: verification and reset mails (IDENTITY_MAIL_BACKEND, console here).
if wants mailer; then
  "$bin/flask" --app identity mail run &
  pids+=($!)
fi
if wants gateway; then
  "$nginx_bin" -p "$gateway_dir/" -c "$gateway_dir/nginx.conf" &
  pids+=($!)
fi
gateway_url="http://${GATEWAY_LISTEN}"
[[ "$GATEWAY_LISTEN" == *:* ]] || gateway_url="http://127.0.0.1:${GATEWAY_LISTEN}"
echo "gateway: ${gateway_url}  docs: ${gateway_url}/docs/identity and ${gateway_url}/docs/items" >&2
echo "direct: identity http://127.0.0.1:${IDENTITY_PORT}/docs  items http://127.0.0.1:${ITEMS_PORT}/docs" >&2
echo "events: relay metrics http://127.0.0.1:${RELAY_METRICS_PORT}/metrics  consumer metrics http://127.0.0.1:${CONSUMER_METRICS_PORT}/metrics" >&2

# Stop everything as soon as one process exits.
wait -n
