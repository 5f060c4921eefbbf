"""What the benchmarks share: free ports, a service under gunicorn, waiting until it answers."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

BENCH_DIR = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class ServerCpu:
    """CPU time (user + system, seconds) used so far by a gunicorn server: the whole process
    tree, and each worker."""

    total: float
    workers: dict[int, float]


def server_cpu(base_url: str) -> ServerCpu:
    """The CPU time of the gunicorn serving `base_url` (Linux /proc). Requests per CPU-second
    of the server measure its cost where other work shares the cores: they move much less
    with what the neighbours take than req/s do."""
    port = base_url.rsplit(":", 1)[1]
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    serving = set()  # the master and its workers (forked: the same command line)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if b"gunicorn" in b" ".join(command) and f"127.0.0.1:{port}".encode() in command:
            serving.add(pid)
    masters = {pid for pid in serving if parents[pid] not in serving}
    workers = {pid: used[pid] for pid, parent in parents.items() if parent in masters}
    return ServerCpu(sum(used[pid] for pid in masters) + sum(workers.values()), workers)


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
