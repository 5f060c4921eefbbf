"""Liveness and readiness endpoints; readiness runs each registered dependency check."""

import logging
from collections.abc import Callable, Mapping

from flask import Blueprint, Flask, Response, jsonify

from service_kit.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]
"""Returns when the dependency is usable; raises any exception when it is not."""


class NotReadyError(ServiceUnavailableError):
    code, title = "not_ready", "Not ready"
    default_detail = "A dependency of this service is unavailable."


def init_health(app: Flask, checks: Mapping[str, ReadinessCheck]) -> None:
    """Register `/health/live` and `/health/ready` (503 problem+json when a check fails)."""
    health = Blueprint("health", __name__, url_prefix="/health")

    @health.get("/live")
    def live() -> Response:
        return jsonify(status="ok")

    @health.get("/ready")
    def ready() -> Response:
        for name, check in checks.items():
            try:
                check()
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
                logger.warning("readiness check failed", extra={"check": name, "error": str(exc)})
                raise NotReadyError(f"Dependency '{name}' is unavailable.") from None
        return jsonify(status="ok", checks=dict.fromkeys(checks, "ok"))

    app.register_blueprint(health)
