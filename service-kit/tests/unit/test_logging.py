"""The JSON log lines every process writes (app, gunicorn, housekeeping)."""

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest

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
