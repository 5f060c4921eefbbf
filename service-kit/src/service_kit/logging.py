"""JSON logging for the app and gunicorn: structlog renders, stdlib loggers feed it."""

import logging
import logging.config
import os
from typing import Any

import structlog

_SENSITIVE_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "authorization",
        "access_token",
        "refresh_token",
        "token",
        "password_hash",
        "secret",
    }
)


def _drop_sensitive(
    _logger: Any, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Last line of defence: a sensitive key passed by mistake never reaches the output."""
    for key in _SENSITIVE_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def _add_pid(
    _logger: Any, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """The process that wrote the line: gunicorn's workers share one output, and what one worker
    did (answered a request, reloaded its keys) is told apart from the others' by it."""
    event_dict.setdefault("pid", os.getpid())
    return event_dict


def _shared_processors() -> list[structlog.typing.Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_pid,
        structlog.stdlib.ExtraAdder(),
        _drop_sensitive,
    ]


def logging_config_dict(*, level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping; gunicorn's `logconfig_dict` uses it too."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
                "foreign_pre_chain": _shared_processors(),
            }
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "gunicorn.error": {"handlers": ["stdout"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            # werkzeug's own request lines duplicate our access log
            "werkzeug": {"level": "WARNING"},
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    """Route every stdlib logger through structlog's JSON renderer; safe to call repeatedly."""
    logging.config.dictConfig(logging_config_dict(level=level, json=json))
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
