"""gunicorn settings shared by the services: `gunicorn -c python:service_kit.gunicorn_config`.

Environment: `WEB_CONCURRENCY` (workers, default 2), `GUNICORN_THREADS` (default 4),
`GUNICORN_TIMEOUT` (default 30 s), `GUNICORN_REUSE_PORT` (default true: see `reuse_port`),
`LOG_LEVEL` (default INFO), `PROMETHEUS_MULTIPROC_DIR` (made fresh under the temp directory when
unset). Bind with `-b HOST:PORT`.
"""

import os
import shutil
import tempfile
from datetime import timedelta
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
if not os.environ.get(MULTIPROC_ENV):
    # Before anything imports prometheus_client: it picks its storage when first imported.
    # Every worker writes its samples here and /metrics merges them (multiprocess mode).
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="prometheus-")

from gunicorn import glogging  # noqa: E402

from service_kit.http.metrics import mark_worker_dead  # noqa: E402
from service_kit.logging import logging_config_dict  # noqa: E402
from service_kit.tracing import WSGI_ENVIRON_KEY  # noqa: E402

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20  # SIGTERM: finish in-flight requests for up to this long
keepalive = 5


def env_flag(name: str, *, default: bool) -> bool:
    """A true/false variable (1/0, true/false, yes/no, on/off); anything else is refused."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


reuse_port = env_flag("GUNICORN_REUSE_PORT", default=True)
"""Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
connections over them by their addresses. With one shared socket, the worker that wakes first
accepts, and a burst of connections piles onto one worker: wrk's 16 kept-alive connections landed
14/2 or 15/1 on the 2 workers, and a client that keeps its connections (a gateway, a pool) then
keeps one core busy and the other idle. Off (`GUNICORN_REUSE_PORT=false`) where another process
of the same user could bind the same port (it would silently share the traffic)."""

control_socket_disable = True  # two services on one host would fight over the default path
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
logconfig_dict = logging_config_dict(level=os.environ.get("LOG_LEVEL", "INFO"))


def on_starting(_server: Any) -> None:
    """Start with an empty metrics directory: samples of a previous run are stale."""
    directory = os.environ[MULTIPROC_ENV]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def post_worker_init(worker: Any) -> None:
    """Run the app's warm-ups (e.g. loading the JWKS) before the worker takes requests."""
    extensions = getattr(worker.wsgi, "extensions", {})
    for warm_up in extensions.get("service_kit.warm_ups", ()):
        warm_up()


def child_exit(_server: Any, worker: Any) -> None:
    mark_worker_dead(worker.pid)


class JsonAccessLogger(glogging.Logger):  # type: ignore[misc]
    """Access lines as structured fields instead of an Apache format string."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        request_id = next(
            (value for name, value in resp.headers if name.lower() == "x-request-id"), None
        )
        trace_ids = environ.get(WSGI_ENVIRON_KEY)  # set while the request's span was open
        self.access_log.info(
            "request",
            extra={
                **(
                    {"trace_id": trace_ids[0], "span_id": trace_ids[1]}
                    if trace_ids is not None
                    else {}
                ),
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "status": resp.status_code,
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
                "bytes": getattr(resp, "sent", None),
                "request_id": request_id,
                "remote_addr": environ.get("REMOTE_ADDR"),
            },
        )


logger_class = JsonAccessLogger
