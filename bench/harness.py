"""What the benchmarks share: free ports, a service under gunicorn, waiting until it answers."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

BENCH_DIR = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, *, seconds: float = 30) -> None:
    """Return once `url` answers without a 5xx; raise after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {seconds} s")


@contextmanager
def gunicorn(
    app_spec: str, *, env: Mapping[str, str], log_path: Path, ready_path: str = "/health/live"
) -> Iterator[str]:
    """`app_spec` under the services' gunicorn config (2 workers x 4 threads unless `env` says
    otherwise) on a free port, run from bench/; yield its base URL once `ready_path` answers."""
    port = free_port()
    environment = {
        **os.environ,
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)  # a fresh one per server (its config)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:service_kit.gunicorn_config",
                "-b",
                f"127.0.0.1:{port}",
                "--chdir",
                str(BENCH_DIR),
                app_spec,
            ],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + ready_path)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)
