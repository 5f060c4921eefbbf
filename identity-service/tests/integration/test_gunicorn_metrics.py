"""Metrics under real gunicorn with several workers: /metrics adds up every worker's samples."""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

REQUESTS = 40
WORKERS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gunicorn_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IDENTITY_", "PROMETHEUS_"))
    }
    env.update(
        IDENTITY_DATABASE_URL=f"sqlite:///{workdir}/identity.db",
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_THREADS="1",
        LOG_LEVEL="WARNING",
    )
    log = (workdir / "gunicorn.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:service_kit.gunicorn_config",
            "-b",
            f"127.0.0.1:{port}",
            "identity:create_app()",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/health/live", timeout=5).close()
                break
            except requests.RequestException:
                assert process.poll() is None, (workdir / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not start within 30 s"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _served_count(metrics: str) -> float:
    pattern = r'http_requests_total\{method="GET",route="/openapi.json",status="200"\} ([0-9.e+]+)'
    match = re.search(pattern, metrics)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_every_request_when_several_workers_served_them(gunicorn_url: str) -> None:
    for _ in range(REQUESTS):  # a new connection each time, so the workers share the load
        requests.get(f"{gunicorn_url}/openapi.json", timeout=10).close()

    scrapes = []
    for _ in range(WORKERS * 2):  # whichever worker answers, the total is the same
        with requests.get(f"{gunicorn_url}/metrics", timeout=10) as response:
            scrapes.append(_served_count(response.text))

    assert scrapes == [float(REQUESTS)] * len(scrapes)
