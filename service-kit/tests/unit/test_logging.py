"""The JSON log lines every process writes (app, gunicorn, housekeeping)."""

import io
import json
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from service_kit.logging import logging_config_dict


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """A handler that renders records as every process's stdout does."""
    stream = io.StringIO()
    formatter = logging.config.DictConfigurator(logging_config_dict()).configure_formatter(
        logging_config_dict()["formatters"]["structured"]
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def test_log_lines_name_the_process_that_wrote_them(output: io.StringIO) -> None:
    logging.getLogger("test.logging").info("worker did something", extra={"kid": "k1"})

    line = json.loads(output.getvalue())

    assert line["pid"] == os.getpid()
    assert (line["event"], line["kid"], line["level"]) == ("worker did something", "k1", "info")


def test_sensitive_fields_are_redacted_in_log_lines(output: io.StringIO) -> None:
    logging.getLogger("test.logging").info("login", extra={"password": "hunter2"})

    line = json.loads(output.getvalue())

    assert line["password"] == "[redacted]"


def test_log_lines_carry_the_bound_request_id_and_a_utc_timestamp(output: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-12345678")
    try:
        logging.getLogger("test.logging").info("handled")
    finally:
        structlog.contextvars.clear_contextvars()

    line = json.loads(output.getvalue())

    assert line["request_id"] == "req-12345678"
    assert line["logger"] == "test.logging"
    stamped = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    assert stamped.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - stamped) < timedelta(minutes=1)


def test_log_lines_hold_extras_but_not_the_records_own_attributes(output: io.StringIO) -> None:
    item = uuid.uuid4()
    logging.getLogger("test.logging").info("made %s", "it", extra={"item": item})

    line = json.loads(output.getvalue())

    assert line["event"] == "made it"
    assert line["item"] == str(item)  # no JSON form: written as str()
    assert not {"lineno", "pathname", "args", "msg", "exc_info"} & set(line)


def test_log_lines_render_an_exception_with_its_traceback(output: io.StringIO) -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("test.logging").exception("failed")

    line = json.loads(output.getvalue())

    assert line["level"] == "error"
    assert "ValueError: broken" in line["exception"]
    assert "Traceback" in line["exception"]
