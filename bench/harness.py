"""What the benchmarks share: databases, free ports, a service under gunicorn, the gateway,
long-running commands, a kept-alive client connection, percentiles, the bench's own token
signing key (and the JWKS server publishing it), items' production settings against it, the
PASS/FAIL verdict on targets, py-spy on a server's workers."""

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

# What items is told to trust when the benchmark signs its tokens itself.
ISSUER, AUDIENCE = "http://bench.local", "api"
SECRET = "bench-" + "x" * 40
TOKEN_TTL_SECONDS = 900  # items refuses tokens living longer than its maximum (900 s)


def database_server() -> str:
    """The PostgreSQL server the benchmarks make their databases on: BENCH_DATABASE_SERVER,
    else TEST_DATABASE_URL, else the local server."""
    return os.environ.get(
        "BENCH_DATABASE_SERVER",
        os.environ.get(
            "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create the database `name` on the server; its URL."""
    admin = create_engine(
        make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def flask_command(app: str, *args: str) -> list[str]:
    """`flask --app APP ARGS...` with this interpreter."""
    return [sys.executable, "-m", "flask", "--app", app, *args]


def upgrade_database(app: str, url: str) -> None:
    """Apply the migrations of `app` (`identity` or `items`) to the database at `url`."""
    prefix = app.upper()
    subprocess.run(
        flask_command(app, "db", "upgrade"),
        env={**os.environ, f"{prefix}_DATABASE_URL": url, f"{prefix}_LOG_LEVEL": "WARNING"},
        check=True,
        stdout=subprocess.DEVNULL,
    )


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
    app_spec: str,
    *,
    env: Mapping[str, str],
    log_path: Path,
    ready_path: str = "/health/live",
    options: Sequence[str] = ("-c", "python:service_kit.gunicorn_config"),
) -> Iterator[str]:
    """`app_spec` under the services' gunicorn config (2 workers x 4 threads unless `env` says
    otherwise; `options` replace that config) on a free port, run from bench/; yield its base
    URL once `ready_path` answers."""
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
                *options,
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


@contextmanager
def gateway(
    log_path: Path,
    *,
    identity_upstream: str | None = None,
    items_upstream: str | None = None,
    settings: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """nginx rendered from the gateway template in front of the given upstreams (host:port; a
    port nobody listens on for one not given); yields its base URL.

    The per-IP limit on auth requests is lifted (`settings` may set it back): a benchmark's
    clients all come from 127.0.0.1 and stand for many addresses."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    listen = free_port()
    env = {
        **os.environ,
        "IDENTITY_UPSTREAM": identity_upstream or f"127.0.0.1:{free_port()}",
        "ITEMS_UPSTREAM": items_upstream or f"127.0.0.1:{free_port()}",
        "GATEWAY_LISTEN": f"127.0.0.1:{listen}",
        "GATEWAY_AUTH_RATE": "100000r/s",
        "GATEWAY_AUTH_BURST": "100000",
        **(settings or {}),
    }
    prefix = log_path.with_suffix("")
    conf = subprocess.run(
        [sys.executable, str(ROOT / "gateway" / "render.py"), "--out", str(prefix)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [nginx, "-p", f"{prefix}/", "-c", conf], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_up(f"http://127.0.0.1:{listen}/health")
            yield f"http://127.0.0.1:{listen}"
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def background(
    argv: Sequence[str], *, env: Mapping[str, str], log_path: Path
) -> Iterator["subprocess.Popen[bytes]"]:
    """A long-running command (an event relay, a consumer) while the block runs, its output in
    `log_path`; SIGTERM at the end (it finishes what it has in hand), SIGKILL after 30 s."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            list(argv), env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


class Connection:
    """One kept-alive HTTP/1.1 connection, as a client library would hold it."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self._conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> tuple[int, float, dict[str, Any], dict[str, str]]:
        """(status, milliseconds, JSON body, headers); status 0 when the connection failed."""
        headers = {"Content-Type": "application/json", **(extra_headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        try:
            self._conn.request(method, path, body=payload, headers=headers)
            response = self._conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            return 0, (time.perf_counter() - started) * 1000, {}, {}
        elapsed = (time.perf_counter() - started) * 1000
        data = json.loads(raw) if raw else {}
        return response.status, elapsed, data, dict(response.getheaders())

    def close(self) -> None:
        self._conn.close()


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max of millisecond values (inclusive percentiles)."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    if len(ordered) == 1:
        cut = [ordered[0]] * 99
    else:
        cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(cut[94], 1),
        "p99_ms": round(cut[98], 1),
        "max_ms": round(ordered[-1], 1),
    }


def signing_key(workdir: Path) -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key whose public half is published as workdir/jwks.json (kid `bench`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": "bench", "alg": "ES256", "use": "sig"})
    (workdir / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    return key


def access_token(
    key: ec.EllipticCurvePrivateKey,
    sub: uuid.UUID,
    role: str,
    *,
    now: datetime | None = None,
    session: uuid.UUID | None = None,
) -> str:
    """An ES256 access token as identity issues them (issued `now`, in `session`; a fresh one
    each unless given), signed with the bench key."""
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(sub),
        "role": role,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=TOKEN_TTL_SECONDS)).timestamp()),
        "jti": uuid.uuid4().hex,
        "sid": str(session or uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "bench", "typ": "at+jwt"})


@contextmanager
def jwks_server(directory: Path) -> Iterator[str]:
    """A static HTTP server over `directory`; yields the URL of its jwks.json."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/jwks.json"
    finally:
        process.terminate()
        process.wait(timeout=10)


def items_production_env(database_url: str, jwks_url: str) -> dict[str, str]:
    """Items' settings in production against `database_url`, trusting the bench key served at
    `jwks_url`."""
    return {
        "ITEMS_ENV": "production",
        "ITEMS_DATABASE_URL": database_url,
        "ITEMS_SECRET_KEY": SECRET,
        "ITEMS_JWKS_URL": jwks_url,
        "ITEMS_TOKEN_ISSUER": ISSUER,
        "ITEMS_TOKEN_AUDIENCE": AUDIENCE,
        "ITEMS_LOG_LEVEL": "WARNING",
        # Production refuses the embedded broker; the web workers never connect to it.
        "ITEMS_EVENTS_BROKER_URL": "amqp://bench:unused@127.0.0.1:5672/bench",
    }


def exit_on_missed_checks(
    checks: Mapping[str, bool], *, passed: str = "PASS", failed: str = "FAIL"
) -> None:
    """Print each check with `passed` or `failed` in front; exit non-zero naming those missed."""
    for name, ok in checks.items():
        print(f"{passed if ok else failed} {name}")
    if not all(checks.values()):
        sys.exit("targets missed: " + ", ".join(name for name, ok in checks.items() if not ok))


@contextmanager
def py_spy(base_url: str, seconds: int, directory: Path, name: str) -> Iterator[list[Path]]:
    """py-spy on every worker of the gunicorn at `base_url` for `seconds` (`--gil`, raw: only
    samples holding the GIL, so C code that releases it and waits on the database drop out);
    the body makes the load. Yields the raw outputs (complete once the block has left)."""
    spy = shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("py-spy is not on PATH (make install; run with uv run)")
    workers = sorted(server_cpu(base_url).workers)
    outputs = [directory / f"{name}-{pid}.txt" for pid in workers]
    spies = [
        subprocess.Popen(
            [
                *(spy, "record", "-p", str(pid), "--gil", "-f", "raw", "-r", "200"),
                *("-o", str(out), "-d", str(seconds), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid, out in zip(workers, outputs, strict=True)
    ]
    time.sleep(1)
    try:
        yield outputs
    finally:
        for spy_process in spies:
            spy_process.wait(timeout=seconds + 60)


def profile_summary(outputs: Sequence[Path], keep_as: Path, *, top: int = 25) -> dict[str, Any]:
    """The frames with the most samples in py-spy's raw `outputs`, own and inclusive (shares of
    all samples); the raw stacks are kept in `keep_as`."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for out in outputs:
        if not out.exists():
            continue
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [_short_frame(frame) for frame in stack.split(";")]
            total += int(count)
            own[frames[-1]] += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
    keep_as.parent.mkdir(exist_ok=True)
    keep_as.write_text("".join(out.read_text() for out in outputs if out.exists()))

    def share(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return (
            [(frame, round(c / total, 3)) for frame, c in counter.most_common(n)] if total else []
        )

    return {
        "samples": total,
        "top_own": share(own, top),
        "top_inclusive": share(inclusive, top * 2),
    }


def _short_frame(frame: str) -> str:
    """`function (path/to/module.py:line)` -> `function (package/module.py)`; lines dropped so
    one function's samples add up."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(Path(path).parts[-2:])})"
