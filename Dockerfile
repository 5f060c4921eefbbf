# The image of either service: identity-service or items-service, chosen by the SERVICE build
# argument. Build context: the repository root (the uv workspace and its lock file):
#   docker build --build-arg SERVICE=identity -t identity-service .
#   docker build --build-arg SERVICE=items -t items-service .
# docker compose builds both this way; Kubernetes runs the images it built (deploy/k8s).
# Works with BuildKit and with the classic builder (no RUN --mount).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: the locked dependencies of this service only, in /app/.venv ------------------
FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_NO_CACHE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
# Fail early and clearly when the argument is missing or names no service of the workspace.
RUN case "${SERVICE}" in identity|items) ;; \
      *) echo "build with --build-arg SERVICE=identity or SERVICE=items (got '${SERVICE}')" >&2; exit 1 ;; \
    esac
# Extra CAs for an HTTPS-intercepting proxy: deploy/ca/*.crt, filled from the host at build
# time by deploy/offline-images.sh and git-ignored (see deploy/ca/README.md). Builder only:
# nothing of it reaches the runtime image.
COPY deploy/ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null && pip install --quiet "uv==${UV_VERSION}"
WORKDIR /app
# Dependencies first (cached until the lock file or a pyproject.toml changes) ...
COPY pyproject.toml uv.lock ./
COPY service-kit/pyproject.toml service-kit/
COPY identity-service/pyproject.toml identity-service/
COPY items-service/pyproject.toml items-service/
RUN uv sync --frozen --no-dev --package "${SERVICE}-service" --no-install-workspace
# ... then the workspace packages themselves (editable: they stay where the sources are).
COPY service-kit/src service-kit/src
COPY ${SERVICE}-service/src ${SERVICE}-service/src
RUN uv sync --frozen --no-dev --package "${SERVICE}-service"

# --- runtime: the venv, the sources and the migrations; no build tools ---------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEB_CONCURRENCY=2 \
    SERVICE_PACKAGE=${SERVICE}
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app
COPY --from=builder /app/.venv /app/.venv
COPY service-kit/src /app/service-kit/src
COPY ${SERVICE}-service/src /app/${SERVICE}-service/src
COPY ${SERVICE}-service/migrations /app/${SERVICE}-service/migrations
WORKDIR /app/${SERVICE}-service
# Bytecode compiled at build time (the app user cannot write it); var/ for the SQLite default.
RUN python -m compileall -q /app/service-kit/src src migrations \
    && mkdir -p var && chown app:app var \
    && python -c "import ${SERVICE}, gunicorn"
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
# gunicorn is PID 1 (the shell execs it): SIGTERM drains in-flight requests (graceful_timeout
# 20 s). Workers: WEB_CONCURRENCY; threads, timeout, log level: see service_kit/gunicorn_config.py.
CMD ["sh", "-c", "exec gunicorn -c python:service_kit.gunicorn_config -b 0.0.0.0:8000 \"${SERVICE_PACKAGE}:create_app()\""]
