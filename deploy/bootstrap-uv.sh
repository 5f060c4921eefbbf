#!/usr/bin/env bash
# A pinned uv in a private tools directory, from nothing but a Python >= 3.11 on PATH.
#
#   deploy/bootstrap-uv.sh TOOLS_DIR VERSION      -> TOOLS_DIR/bin/uv
#
# The Makefile calls this for every target that needs uv when none is on PATH, so `make test`
# and `make run` work as the first command typed on a bare machine. Nothing is installed into
# the system interpreter: where pip refuses that (PEP 668, "externally-managed-environment",
# as on Debian and Ubuntu), a private venv takes uv instead; where the interpreter cannot make
# a venv with pip (Debian without python3-venv), `pip install --target` into TOOLS_DIR does,
# which PEP 668 does not forbid. Idempotent: an existing TOOLS_DIR/bin/uv of VERSION is kept.
#
# Environment: PYTHON (default python3), and pip's own settings (PIP_INDEX_URL, PIP_CERT, ...).
set -euo pipefail

tools=${1:?usage: bootstrap-uv.sh TOOLS_DIR VERSION}
version=${2:?usage: bootstrap-uv.sh TOOLS_DIR VERSION}
python=${PYTHON:-python3}

log() { printf '[bootstrap-uv] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

uv_link="$tools/bin/uv"
if [ -x "$uv_link" ] && [ "$("$uv_link" --version 2>/dev/null | awk '{print $2}')" = "$version" ]; then
  exit 0
fi

command -v "$python" >/dev/null 2>&1 || die "no '$python' on PATH: install Python >= 3.11"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$("$python" --version 2>&1) is too old: Python >= 3.11 is required"

mkdir -p "$tools/bin"
tools=$(cd "$tools" && pwd)
uv_link="$tools/bin/uv"
log "installing uv $version into $tools (nothing goes into the system Python)"
rm -rf "$tools/uv-venv" "$tools/uv-package"
if "$python" -m venv "$tools/uv-venv" >/dev/null 2>&1 \
  && "$tools/uv-venv/bin/python" -m pip --version >/dev/null 2>&1; then
  "$tools/uv-venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$version"
  uv_bin="$tools/uv-venv/bin/uv"
else
  rm -rf "$tools/uv-venv"
  "$python" -m pip --version >/dev/null 2>&1 \
    || die "'$python' has neither venv with pip nor pip: install python3-venv or python3-pip"
  "$python" -m pip install --quiet --disable-pip-version-check --target "$tools/uv-package" \
    "uv==$version"
  uv_bin="$tools/uv-package/bin/uv"
fi
[ -x "$uv_bin" ] || die "uv $version installed, but $uv_bin is missing"
ln -sfn "$uv_bin" "$uv_link"
log "$("$uv_link" --version)"
