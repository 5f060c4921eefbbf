#!/usr/bin/env bash
# Builds local stand-ins for the base images the Dockerfiles and docker-compose.yml use, from
# Debian packages only, for machines that reach a Debian mirror and PyPI but no container
# registry. Each stand-in keeps the interface of the official image it replaces:
#
#   python:3.11-slim-bookworm  Debian python3 (3.11) + venv + pip; `python`/`pip` on PATH,
#                              pip installs system-wide like the official image; trusts the
#                              host's extra CAs (see below)
#   postgres:15-bookworm       Debian postgresql-15; entrypoint honours POSTGRES_USER,
#                              POSTGRES_PASSWORD, POSTGRES_DB (and *_FILE), POSTGRES_INITDB_ARGS,
#                              POSTGRES_HOST_AUTH_METHOD, PGDATA, /docker-entrypoint-initdb.d;
#                              listens on 0.0.0.0:5432; the server runs as `postgres`
#   nginx:stable-bookworm      Debian nginx (1.22); /docker-entrypoint.sh + /docker-entrypoint.d
#                              render /etc/nginx/templates/*.template into /etc/nginx/conf.d/ with
#                              envsubst of the defined environment variables; curl for checks
#   rabbitmq:3.10              Debian rabbitmq-server (3.10); honours RABBITMQ_DEFAULT_USER,
#                              RABBITMQ_DEFAULT_PASS, RABBITMQ_DEFAULT_VHOST; listens on 5672;
#                              `rabbitmq-diagnostics -q ping` for health checks; data and HOME
#                              (the Erlang cookie) in /var/lib/rabbitmq; runs as `rabbitmq`
#                              (uid/gid 999), also when started as that user with a read-only
#                              root filesystem (a Kubernetes pod); logs on stdout
#
# How: `debootstrap --variant=minbase bookworm` once (about 40 s) from the Debian mirror in
# /etc/apt/sources*, `docker import` as $BASE_IMAGE, then one small Dockerfile per stand-in
# that apt-installs its packages on top. A tag that already exists is skipped (so is the
# debootstrap when $BASE_IMAGE exists) unless it was built from an older recipe (its
# `offline-images.revision` label is below standin_revision's); `--force` rebuilds everything.
#
# CA certificates: this machine's outgoing HTTPS goes through a proxy with its own CA. The
# host's /usr/local/share/ca-certificates/*.crt are copied into the python stand-in at build
# time (never into the repository), so pip/uv in image builds reach PyPI. The same files are
# also copied to deploy/ca/ (git-ignored), which the service Dockerfiles' builder stage trusts,
# so service builds also work on top of the real python image behind such a proxy.
#
#   deploy/offline-images.sh [--force]
#
# Environment: DEBIAN_MIRROR (default: first bookworm mirror in /etc/apt/sources*),
# DEBIAN_SECURITY_MIRROR, PYTHON_IMAGE, POSTGRES_IMAGE, NGINX_IMAGE, RABBITMQ_IMAGE, BASE_IMAGE,
# OFFLINE_IMAGES_WORKDIR (default /var/tmp/offline-images).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$PWD

SUITE=bookworm
PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.11-slim-bookworm}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:15-bookworm}
NGINX_IMAGE=${NGINX_IMAGE:-nginx:stable-bookworm}
RABBITMQ_IMAGE=${RABBITMQ_IMAGE:-rabbitmq:3.10}
BASE_IMAGE=${BASE_IMAGE:-offline/debian:bookworm-minbase}
WORKDIR=${OFFLINE_IMAGES_WORKDIR:-/var/tmp/offline-images}
HOST_CA_GLOB=/usr/local/share/ca-certificates
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

log() { printf '\n[offline-images] %s\n' "$*" >&2; }
die() { printf '[offline-images] ERROR: %s\n' "$*" >&2; exit 1; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
# A stand-in's recipe revision: raise it when the recipe changes in a way that matters, so that
# machines holding an older build rebuild it (a tag without the label counts as revision 1).
standin_revision() {
  case "$1" in
    "$RABBITMQ_IMAGE") echo 2 ;;  # 2: uid 999, starts as non-root on a read-only root filesystem
    *) echo 1 ;;
  esac
}
image_current() {  # TAG: present, and built from the current recipe
  local revision
  revision=$(docker image inspect -f '{{ index .Config.Labels "offline-images.revision" }}' "$1" \
    2>/dev/null) || return 1
  [[ $revision =~ ^[0-9]+$ ]] || revision=1
  [ "$revision" -ge "$(standin_revision "$1")" ]
}
seconds_since() { echo $(($(date +%s) - $1)); }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

image_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }
show_images() {
  local tag
  for tag in "$BASE_IMAGE" "$PYTHON_IMAGE" "$POSTGRES_IMAGE" "$NGINX_IMAGE" "$RABBITMQ_IMAGE"; do
    if image_exists "$tag"; then printf '  %-34s %s\n' "$tag" "$(image_size "$tag")"; fi
  done
}

if ! docker info >/dev/null 2>&1; then
  log "docker is not answering: running deploy/docker-engine.sh"
  "$REPO_ROOT/deploy/docker-engine.sh"
fi

# --- CA certificates for builds (git-ignored copies) ----------------------------------------
sync_host_cas() {  # DEST_DIR: copy the host's extra CA certificates, nothing else
  local dest=$1
  mkdir -p "$dest"
  find "$dest" -maxdepth 1 -name '*.crt' -delete
  if compgen -G "$HOST_CA_GLOB/*.crt" >/dev/null; then
    cp "$HOST_CA_GLOB"/*.crt "$dest/"
  fi
}
sync_host_cas "$REPO_ROOT/deploy/ca"
ca_count=$(find "$REPO_ROOT/deploy/ca" -maxdepth 1 -name '*.crt' | wc -l)
log "deploy/ca/: $ca_count host CA certificate(s) for image builds (git-ignored)"

# --- what is missing ------------------------------------------------------------------------
wanted=()
for tag in "$PYTHON_IMAGE" "$POSTGRES_IMAGE" "$NGINX_IMAGE" "$RABBITMQ_IMAGE"; do
  if [ "$FORCE" -eq 0 ] && image_current "$tag"; then
    log "$tag exists: skipped"
  else
    if [ "$FORCE" -eq 0 ] && image_exists "$tag"; then log "$tag is from an older recipe: rebuilt"; fi
    wanted+=("$tag")
  fi
done
if [ "${#wanted[@]}" -eq 0 ]; then
  log "every base image is present"
  show_images
  exit 0
fi

# --- the Debian mirror ----------------------------------------------------------------------
find_mirror() {  # SUITE: first `deb` URI serving SUITE in the host's apt sources (both formats)
  local files=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ "${#files[@]}" -gt 0 ] || return 0
  awk -v want="$1" '
    function flush() {
      if (!found && types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " want " ")) {
        split(uris, u, " "); print u[1]; found = 1
      }
      types = uris = suites = enabled = ""
    }
    FNR == 1 { flush() }
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      if ($0 ~ /^[ \t]*#/) next
      key = tolower($1); value = $0; sub(/^[^:]*:[ \t]*/, "", value)
      if (key == "types:") types = value
      else if (key == "uris:") uris = value
      else if (key == "suites:") suites = value
      else if (key == "enabled:") enabled = tolower(value)
      next
    }
    /^[ \t]*deb[ \t]/ {
      line = $0; sub(/\[[^]]*\]/, "", line); n = split(line, f, /[ \t]+/)
      if (!found && f[3] == want) { print f[2]; found = 1 }
    }
    END { flush() }
  ' "${files[@]}"
}
MIRROR=${DEBIAN_MIRROR:-$(find_mirror "$SUITE")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(find_mirror "$SUITE-security")}
log "Debian mirror: $MIRROR${SECURITY_MIRROR:+ (security: $SECURITY_MIRROR)}"

# --- the shared minbase root filesystem -----------------------------------------------------
build_base() {
  local started rootfs=$WORKDIR/rootfs
  started=$(date +%s)
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "apt-get install debootstrap"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  log "debootstrap --variant=minbase $SUITE into $rootfs (about 40 s)"
  $SUDO rm -rf "$rootfs"
  $SUDO mkdir -p "$rootfs"
  $SUDO debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$MIRROR" \
    >"$WORKDIR/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORKDIR/debootstrap.log" >&2
    die "debootstrap failed (full log: $WORKDIR/debootstrap.log)"
  }

  # The minimising configuration of the official debian:*-slim images.
  {
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    if [ -n "$SECURITY_MIRROR" ]; then echo "deb $SECURITY_MIRROR $SUITE-security main"; fi
  } | $SUDO tee "$rootfs/etc/apt/sources.list" >/dev/null
  $SUDO tee "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  $SUDO tee "$rootfs/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::AutoRemove::SuggestsImportant "false";
EOF
  # No init system in a container: package scripts must not try to start services.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$rootfs/usr/sbin/policy-rc.d" >/dev/null
  $SUDO chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  $SUDO find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  $SUDO rm -rf "$rootfs"/usr/share/{man,info,locale,groff,lintian,linda}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/* \
    "$rootfs"/etc/hostname "$rootfs"/etc/resolv.conf "$rootfs"/etc/machine-id
  log "docker import -> $BASE_IMAGE"
  $SUDO tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase $SUITE $MIRROR" \
    - "$BASE_IMAGE" >/dev/null
  $SUDO rm -rf "$rootfs"
  log "$BASE_IMAGE built in $(seconds_since "$started") s"
}

mkdir -p "$WORKDIR"
if [ "$FORCE" -eq 0 ] && image_exists "$BASE_IMAGE"; then
  log "$BASE_IMAGE exists: debootstrap skipped"
else
  build_base
fi

# --- one build context per stand-in ---------------------------------------------------------
build_standin() {  # TAG CONTEXT_DIR: full build output goes to a log file, shown on failure
  local tag=$1 ctx=$2 started build_log
  started=$(date +%s)
  build_log="$WORKDIR/build-$(basename "$ctx").log"
  log "building $tag (log: $build_log)"
  if ! docker build --pull=false --build-arg "BASE=$BASE_IMAGE" \
    --label "org.opencontainers.image.description=Offline stand-in for $tag, built from Debian $SUITE packages by deploy/offline-images.sh" \
    --label "offline-images.revision=$(standin_revision "$tag")" \
    -t "$tag" "$ctx" >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    die "building $tag failed (full log: $build_log)"
  fi
  log "$tag built in $(seconds_since "$started") s ($(image_size "$tag"))"
}

python_context() {
  local ctx=$WORKDIR/python
  rm -rf "$ctx" && mkdir -p "$ctx"
  sync_host_cas "$ctx/ca"
  touch "$ctx/ca/.keep"
  cat >"$ctx/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE}
ENV LANG=C.UTF-8
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip; \
    rm -rf /var/lib/apt/lists/*; \
    # Like the official image: pip may install system-wide, `python` and `pip` exist.
    rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED; \
    ln -sf /usr/bin/python3 /usr/local/bin/python; \
    ln -sf /usr/bin/pip3 /usr/local/bin/pip; \
    python --version; pip --version
# The host's extra CAs (an HTTPS-intercepting proxy), copied at build time, never committed.
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
CMD ["python3"]
EOF
  echo "$ctx"
}

postgres_context() {
  local ctx=$WORKDIR/postgres
  rm -rf "$ctx" && mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE}
ENV LANG=C.UTF-8 PG_MAJOR=15
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
RUN set -eux; \
    groupadd -r postgres --gid=999; \
    useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres; \
    mkdir -p /var/lib/postgresql; chown -R postgres:postgres /var/lib/postgresql; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-common; \
    # As the official image: no "main" cluster; the entrypoint runs initdb on $PGDATA.
    sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf; \
    apt-get install -y --no-install-recommends "postgresql-$PG_MAJOR"; \
    rm -rf /var/lib/apt/lists/*; \
    sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" /usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample; \
    grep -F "listen_addresses = '*'" /usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample; \
    mkdir -p /var/run/postgresql /docker-entrypoint-initdb.d; \
    chown -R postgres:postgres /var/run/postgresql; chmod 3777 /var/run/postgresql; \
    mkdir -p "$PGDATA"; chown -R postgres:postgres "$PGDATA"; chmod 1777 "$PGDATA"; \
    postgres --version; psql --version
COPY docker-entrypoint.sh /usr/local/bin/
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
  cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/usr/bin/env bash
# Stand-in for the official postgres image's entrypoint: same variables, same first start.
set -Eeo pipefail

file_env() {  # VAR [DEFAULT]: take VAR, or the content of the file named by VAR_FILE
  local var=$1 file_var="${1}_FILE" value=${2:-}
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    echo "error: both $var and $file_var are set (but are exclusive)" >&2; exit 1
  fi
  if [ -n "${!var:-}" ]; then value=${!var}; elif [ -n "${!file_var:-}" ]; then value=$(<"${!file_var}"); fi
  export "$var"="$value"
  unset "$file_var"
}

psql_as_owner() { psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA"
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 00700 "$PGDATA"
  mkdir -p /var/run/postgresql
  chown postgres:postgres /var/run/postgresql
  chmod 03775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = 'postgres' ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != 'trust' ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       Set POSTGRES_PASSWORD to a non-empty value for the superuser, or
       POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password.
MSG
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" 2>/dev/null || true
  # POSTGRES_INITDB_ARGS is a list of words, as in the official image.
  if [ -n "$POSTGRES_PASSWORD" ]; then
    # shellcheck disable=SC2086
    initdb --username="$POSTGRES_USER" -D "$PGDATA" \
      --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
  else
    # shellcheck disable=SC2086
    initdb --username="$POSTGRES_USER" -D "$PGDATA" $POSTGRES_INITDB_ARGS
  fi
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  # A temporary server on the socket only: nothing outside sees a half-initialised database.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  if [ "$POSTGRES_DB" != 'postgres' ]; then
    psql_as_owner --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) if [ -x "$f" ]; then echo "running $f"; "$f"; else echo "sourcing $f"; . "$f"; fi ;;
      *.sql) echo "running $f"; psql_as_owner --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | psql_as_owner --dbname "$POSTGRES_DB" ;;
      *) [ -e "$f" ] && echo "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
EOF
  chmod 0755 "$ctx/docker-entrypoint.sh"
  echo "$ctx"
}

nginx_context() {
  local ctx=$WORKDIR/nginx
  rm -rf "$ctx" && mkdir -p "$ctx/docker-entrypoint.d"
  cat >"$ctx/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE}
ENV LANG=C.UTF-8
RUN set -eux; \
    groupadd --system --gid 101 nginx; \
    useradd --system --gid nginx --uid 101 --no-create-home --home /nonexistent \
      --comment "nginx user" --shell /bin/false nginx; \
    apt-get update; \
    apt-get install -y --no-install-recommends nginx gettext-base curl; \
    rm -rf /var/lib/apt/lists/*; \
    rm -f /etc/nginx/sites-enabled/* /etc/nginx/sites-available/default; \
    mkdir -p /etc/nginx/conf.d /etc/nginx/templates /usr/share/nginx/html /var/cache/nginx; \
    ln -sf /dev/stdout /var/log/nginx/access.log; \
    ln -sf /dev/stderr /var/log/nginx/error.log; \
    nginx -v
COPY nginx.conf /etc/nginx/nginx.conf
COPY default.conf /etc/nginx/conf.d/default.conf
COPY index.html /usr/share/nginx/html/index.html
COPY docker-entrypoint.sh /
COPY docker-entrypoint.d/ /docker-entrypoint.d/
RUN nginx -t
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
  cat >"$ctx/nginx.conf" <<'EOF'
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /run/nginx.pid;
include /etc/nginx/modules-enabled/*.conf;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
EOF
  cat >"$ctx/default.conf" <<'EOF'
server {
    listen       80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html;
    }
}
EOF
  echo '<!DOCTYPE html><title>nginx</title><p>nginx (offline stand-in)</p>' >"$ctx/index.html"
  cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Stand-in for the official nginx image's entrypoint: runs /docker-entrypoint.d/ in order
# (*.envsh sourced, *.sh executed) when the command is nginx, then execs the command.
set -e

entrypoint_log() { if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then echo "$@"; fi; }

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
  scripts=$(find /docker-entrypoint.d/ -follow -type f -print | sort -V)
  if [ -n "$scripts" ]; then
    entrypoint_log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"
    for f in $scripts; do
      case "$f" in
        *.envsh)
          if [ -x "$f" ]; then entrypoint_log "$0: Sourcing $f"; . "$f"
          else entrypoint_log "$0: Ignoring $f, not executable"; fi ;;
        *.sh)
          if [ -x "$f" ]; then entrypoint_log "$0: Launching $f"; "$f"
          else entrypoint_log "$0: Ignoring $f, not executable"; fi ;;
        *) entrypoint_log "$0: Ignoring $f" ;;
      esac
    done
    entrypoint_log "$0: Configuration complete; ready for start up"
  else
    entrypoint_log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
  fi
fi

exec "$@"
EOF
  cat >"$ctx/docker-entrypoint.d/15-local-resolvers.envsh" <<'EOF'
#!/bin/sh
# NGINX_ENTRYPOINT_LOCAL_RESOLVERS=1 exports NGINX_LOCAL_RESOLVERS (the container's resolvers).
set -eu
[ "${NGINX_ENTRYPOINT_LOCAL_RESOLVERS:-}" ] || return 0
NGINX_LOCAL_RESOLVERS=$(awk 'BEGIN{ORS=" "} $1=="nameserver" {if ($2 ~ ":") {print "["$2"]"} else {print $2}}' /etc/resolv.conf)
NGINX_LOCAL_RESOLVERS="${NGINX_LOCAL_RESOLVERS% }"
export NGINX_LOCAL_RESOLVERS
EOF
  cat >"$ctx/docker-entrypoint.d/20-envsubst-on-templates.sh" <<'EOF'
#!/bin/sh
# Renders $NGINX_ENVSUBST_TEMPLATE_DIR/*.template (default /etc/nginx/templates) into
# $NGINX_ENVSUBST_OUTPUT_DIR (default /etc/nginx/conf.d), substituting only variables that are
# defined in the environment (optionally filtered by the regex NGINX_ENVSUBST_FILTER), so
# nginx's own $variables are left alone.
set -e
ME=$(basename "$0")
entrypoint_log() { if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then echo "$@"; fi; }

auto_envsubst() {
  template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
  suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
  output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
  filter="${NGINX_ENVSUBST_FILTER:-}"

  defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))
  [ -d "$template_dir" ] || return 0
  if [ ! -w "$output_dir" ]; then
    entrypoint_log "$ME: ERROR: $template_dir exists, but $output_dir is not writable"
    return 0
  fi
  find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    relative_path="${template#"$template_dir/"}"
    output_path="$output_dir/${relative_path%"$suffix"}"
    subdir=$(dirname "$relative_path")
    mkdir -p "$output_dir/$subdir"
    entrypoint_log "$ME: Running envsubst on $template to $output_path"
    envsubst "$defined_envs" <"$template" >"$output_path"
  done
}

auto_envsubst
exit 0
EOF
  chmod 0755 "$ctx/docker-entrypoint.sh" "$ctx"/docker-entrypoint.d/*
  echo "$ctx"
}

rabbitmq_context() {
  local ctx=$WORKDIR/rabbitmq
  rm -rf "$ctx" && mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE}
# As the official image: user and group `rabbitmq` with id 999, HOME (the Erlang cookie) in the
# data directory, the server's own scripts first on PATH, so a container started as that user
# (a pod with a read-only root filesystem) runs `rabbitmq-server` and `rabbitmq-diagnostics`
# directly: Debian's /usr/sbin wrappers only run as root or `rabbitmq` and log to files.
ENV LANG=C.UTF-8 HOME=/var/lib/rabbitmq RABBITMQ_LOGS=- PATH=/usr/lib/rabbitmq/bin:$PATH
RUN set -eux; \
    groupadd --system --gid 999 rabbitmq; \
    useradd --system --uid 999 --gid rabbitmq --home-dir /var/lib/rabbitmq --no-create-home \
      --shell /usr/sbin/nologin rabbitmq; \
    apt-get update; \
    apt-get install -y --no-install-recommends rabbitmq-server; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/rabbitmq /etc/rabbitmq/conf.d /var/log/rabbitmq; \
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq /var/log/rabbitmq; \
    rm -f /var/lib/rabbitmq/.erlang.cookie; \
    [ "$(id -u rabbitmq):$(id -g rabbitmq)" = 999:999 ]; \
    [ "$(command -v rabbitmq-diagnostics)" = /usr/lib/rabbitmq/bin/rabbitmq-diagnostics ]
COPY docker-entrypoint.sh /usr/local/bin/
VOLUME /var/lib/rabbitmq
EXPOSE 5672
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["rabbitmq-server"]
EOF
  cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/usr/bin/env bash
# Stand-in for the official rabbitmq image's entrypoint. Started as root (docker compose): a
# configuration file for the listener and console logging, the data directory handed to
# `rabbitmq`, then the server as that user. Started as `rabbitmq` (a pod's runAsUser 999): the
# command as it is. Either way the server itself reads RABBITMQ_DEFAULT_USER, RABBITMQ_DEFAULT_PASS
# and RABBITMQ_DEFAULT_VHOST, and logs to stdout (RABBITMQ_LOGS=-). No Erlang cookie comes with
# the image: the server makes one in HOME on its first start.
set -euo pipefail
if [ "${1:-}" = 'rabbitmq-server' ] && [ "$(id -u)" = '0' ]; then
  conf=/etc/rabbitmq/rabbitmq.conf
  {
    echo "listeners.tcp.default = 5672"
    echo "loopback_users = none"
    echo "log.console = true"
    echo "log.file = false"
  } >"$conf"
  chown rabbitmq:rabbitmq "$conf"
  # The node's Erlang cookie, made now: a health check run as root (docker exec) before the
  # server made it would create it as root, and the server could then not read it.
  cookie=/var/lib/rabbitmq/.erlang.cookie
  if [ ! -s "$cookie" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -dc 'a-f0-9' >"$cookie")
  fi
  chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
  chmod 0400 "$cookie"
  shift
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
    /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi
exec "$@"
EOF
  chmod 0755 "$ctx/docker-entrypoint.sh"
  echo "$ctx"
}

total_started=$(date +%s)
for tag in "${wanted[@]}"; do
  case "$tag" in
    "$PYTHON_IMAGE") build_standin "$tag" "$(python_context)" ;;
    "$POSTGRES_IMAGE") build_standin "$tag" "$(postgres_context)" ;;
    "$NGINX_IMAGE") build_standin "$tag" "$(nginx_context)" ;;
    "$RABBITMQ_IMAGE") build_standin "$tag" "$(rabbitmq_context)" ;;
  esac
done
rm -rf "$WORKDIR/python" "$WORKDIR/postgres" "$WORKDIR/nginx" "$WORKDIR/rabbitmq"

log "done in $(seconds_since "$total_started") s"
show_images
