#!/usr/bin/env bash
# Everything a full `make test` needs besides Python, on Debian or Ubuntu (root, or sudo).
#
#   deploy/install-prerequisites.sh [PART ...]       PARTs: postgres rabbitmq nginx docker
#                                                      chromium maildev (default: all six),
#                                                      bench (wrk)
#
# README's "Prerequisites" table lists the same parts and what is skipped without each; `.ci/run`
# calls this very script, so CI and the README cannot drift. Idempotent: installs and starts only
# what is missing, so it is safe on a bare machine and on one that already has everything.
#   postgres  PostgreSQL server on 127.0.0.1:5432, user postgres, trust for local TCP (tests
#             create and drop their own databases); started if it is down
#   rabbitmq  RabbitMQ on 127.0.0.1:5672 (guest/guest; the event tests make a vhost each with
#             rabbitmqctl); started if it is down
#   nginx     nginx (the gateway) and envsubst (gettext-base; the gateway tests compare with it)
#   docker    Docker engine + compose v2 (deploy/docker-engine.sh), then the base images built
#             offline from Debian packages (deploy/offline-images.sh; no registry needed)
#   chromium  headless Chromium (the Swagger UI e2e test)
#   maildev   MailDev, the mail catcher the e2e account flows read mails from, into
#             .tools/maildev (npm; Node.js from Debian when none is on PATH)
#   bench     wrk (make bench)
# uv is not a part: every make target installs the pinned uv itself when none is on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n[prerequisites] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "run as root (or install sudo)"
  SUDO="sudo"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian/Ubuntu"

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

install_postgres() {
  log "PostgreSQL on 127.0.0.1:5432"
  if ! have pg_ctlcluster; then
    apt_install postgresql
    # Tests connect as postgres over local TCP without a password, as the README says.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      $SUDO sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    done
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do
      pg_isready -h 127.0.0.1 -p 5432 -q && break
      sleep 1
    done
  fi
  pg_isready -h 127.0.0.1 -p 5432 || die "PostgreSQL does not answer on 127.0.0.1:5432"
}

install_rabbitmq() {
  log "RabbitMQ on 127.0.0.1:5672"
  have rabbitmq-server || apt_install rabbitmq-server
  if ! $SUDO rabbitmqctl -q status >/dev/null 2>&1; then
    $SUDO rabbitmq-server -detached
  fi
  # await_startup waits for the node to boot (and fails at once if it is not running at all).
  for _ in $(seq 1 60); do
    $SUDO rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1 && break
    sleep 1
  done
  $SUDO rabbitmqctl -q await_startup --timeout 5 || die "RabbitMQ did not start"
  echo "RabbitMQ $($SUDO rabbitmqctl -q version)"
}

install_nginx() {
  log "nginx and envsubst"
  have nginx || apt_install nginx
  have envsubst || apt_install gettext-base
  "$(command -v nginx || echo /usr/sbin/nginx)" -v
}

install_docker() {
  log "Docker engine and compose v2"
  bash deploy/docker-engine.sh
  log "base images, built offline from Debian packages"
  bash deploy/offline-images.sh
}

install_chromium() {
  log "Chromium"
  have chromium || apt_install chromium
  chromium --version 2>/dev/null
}

MAILDEV_VERSION=2.2.1  # the same as deploy/maildev/Dockerfile's

install_maildev() {
  log "MailDev ${MAILDEV_VERSION} (npm) into .tools/maildev"
  have npm || apt_install nodejs npm
  local bin=.tools/maildev/node_modules/.bin/maildev
  if [ ! -x "$bin" ] || ! grep -q "\"version\": \"${MAILDEV_VERSION}\"" \
      .tools/maildev/node_modules/maildev/package.json 2>/dev/null; then
    npm install --prefix .tools/maildev --omit=dev --no-audit --no-fund --loglevel=error \
      "maildev@${MAILDEV_VERSION}" >&2
  fi
  "$bin" --version >&2
}

install_bench() {
  log "wrk"
  have wrk || apt_install wrk
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(postgres rabbitmq nginx docker chromium maildev)
for part in "${parts[@]}"; do
  case "$part" in
    postgres | rabbitmq | nginx | docker | chromium | maildev | bench) "install_$part" ;;
    *) die "unknown part '$part' (postgres rabbitmq nginx docker chromium maildev bench)" ;;
  esac
done
log "ready: ${parts[*]}"
