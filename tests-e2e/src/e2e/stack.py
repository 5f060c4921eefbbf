"""The stack under test, reached only through its gateway. `STACK=native|compose` picks how.

- native: `deploy/run-local.sh` (what `make run` runs: both migrations, gunicorn x2, nginx from
  PATH, the event relay and consumer) on two fresh PostgreSQL databases, a RabbitMQ vhost of its
  own on the host's broker and free ports, each output captured to a file; stopped with SIGTERM
  (the script stops its children) and waited for. Four run-local.sh units, each with a
  `RUN_LOCAL_SERVICES` subset: identity, items + gateway, the relay and the consumer, so a drill
  stops, kills or restarts one of them on its own; the broker is reached through a `TcpProxy`
  the stack cuts to take the broker away (see `NativeStack`).
- compose: `docker-compose.yml` through testcontainers' `DockerCompose`, images built, under a
  project name of its own with the gateway on a free port; `down -v` afterwards.

Both run with `DRILL_SETTINGS`: key caches of a second or two, so the key-rotation drill takes
seconds instead of the production minutes, two gunicorn workers per service, and a gateway auth
rate that a flood exceeds but the rest of the suite does not. Everything that waits has a
deadline.

Drills act on units by their compose service names (`IDENTITY`, `RELAY`, `CONSUMER`, `BROKER`):
`stack.stop(unit)` (SIGTERM, or a clean broker stop), `stack.kill(unit)` (SIGKILL) and
`stack.start(unit)`, which returns once the unit works again (`start_in_background(unit)`: at
once, for a drill that acts while it starts). The broker: compose stops or kills its container;
native cuts the proxy in front of the vhost for both (connections closed, none accepted; the
queues stay). White-box drills also read what the relay and the consumer count
(`stack.metrics(unit)`) and each service's own database (`stack.sql(service, query)`).
"""

import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

import requests
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from testcontainers.compose import DockerCompose

from e2e.waiting import WaitTimeoutError, wait_until
from service_kit.events.broker import describe
from service_kit_testing.otlp import OtlpReceiver
from service_kit_testing.postgres import postgres_server
from service_kit_testing.rabbitmq import (
    RabbitMQUnavailableError,
    rabbitmq_required,
    rabbitmq_vhost,
)
from service_kit_testing.tcp_proxy import TcpProxy

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
RUN_LOCAL: Final = REPO_ROOT / "deploy" / "run-local.sh"
COMPOSE_FILES: Final = ["docker-compose.yml"]
MODES: Final = ("native", "compose")

# The suite's own registrations and logins peak at about 30 requests above a 30 r/s rate (10 r/s
# with a burst of 20 is not enough for it); a flood of failed logins reaches 250+ per second.
AUTH_RATE_PER_SECOND: Final = 30
AUTH_BURST: Final = 60
CREDENTIAL_PACE_PER_SECOND: Final = AUTH_RATE_PER_SECOND - 5
"""How fast a test may send requests the credential budget counts (login, register, refresh,
password change): below the rate, so the burst is never spent and no later test meets a 429."""
KEY_CACHE_SECONDS: Final = 2
"""The longest key cache below: how long a key change takes to reach every worker."""
ITEMS_WORKERS: Final = 2
"""gunicorn workers of each service: each has its own key cache and revocation view."""

DRILL_SETTINGS: Final[Mapping[str, str]] = {
    "IDENTITY_VERIFICATION_KEY_CACHE_SECONDS": "1",
    "ITEMS_JWKS_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
    "ITEMS_JWKS_MIN_REFETCH_SECONDS": "1",
    "GATEWAY_AUTH_RATE": f"{AUTH_RATE_PER_SECOND}r/s",
    "GATEWAY_AUTH_BURST": str(AUTH_BURST),
    # As many workers as production's default: a key change or a revocation must reach each.
    "WEB_CONCURRENCY": str(ITEMS_WORKERS),
    # A cheap Argon2id profile: the suite hashes a few hundred passwords (tests only).
    "IDENTITY_ARGON2_TIME_COST": "1",
    "IDENTITY_ARGON2_MEMORY_COST_KIB": "1024",
    "IDENTITY_ARGON2_PARALLELISM": "1",
}

SPAN_EXPORT_DELAY_MS: Final = 200
"""How long the services batch spans before they export them (the SDK's default is 5 s)."""
SPANS_KEPT: Final = 50_000
"""The receiver keeps the most recent spans only: the fuzzing alone makes tens of thousands."""
NATIVE_READY_SECONDS: Final = 60
COMPOSE_READY_SECONDS: Final = 180
IDENTITY_RESTART_SECONDS: Final = 60
UNIT_START_SECONDS: Final = 60
STOP_SECONDS: Final = 30
COMMAND_SECONDS: Final = 120

IDENTITY: Final = "identity"
RELAY: Final = "identity-relay"
CONSUMER: Final = "items-consumer"
MAILER: Final = "identity-mailer"
BROKER: Final = "rabbitmq"
UNITS: Final = (IDENTITY, RELAY, CONSUMER, BROKER)
"""What `Stack.stop`, `kill` and `start` act on: compose's service names, in both modes."""
DATABASES: Final = ("identity", "items")
"""The services whose database `Stack.sql` reaches."""
METRICS_PORTS: Final[Mapping[str, int]] = {RELAY: 9101, CONSUMER: 9102}
"""Where the relay and the consumer serve their metrics inside their compose containers."""
STARTED_MARKERS: Final[Mapping[str, str]] = {
    # What each event process writes once it runs (the consumer: once it consumes its queue).
    RELAY: "relaying events to",
    CONSUMER: '"event": "consuming"',
    MAILER: '"event": "mail worker started"',
}


class StackUnavailableError(RuntimeError):
    """Something the selected mode needs is missing; the message says what."""


class StackError(RuntimeError):
    """The stack failed to start, or a command inside it failed; the message has its output."""


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _status(http: requests.Session, url: str) -> int | None:
    try:
        with http.get(url, timeout=3) as response:
            return response.status_code
    except requests.RequestException:
        return None


class Stack(ABC):
    """A running stack: its gateway URL and the operator actions the drills need."""

    mode: ClassVar[str]

    traces: OtlpReceiver | None = None
    """Where the native stack's services export their spans (set by `running_stack`); None for
    compose, which runs as `docker compose up` does by default: tracing off."""

    def __init__(self, *, base_url: str, workdir: Path, mail_url: str) -> None:
        self.base_url = base_url
        self.workdir = workdir
        self.mail_url = mail_url
        """The mail catcher's API (MailDev: `GET /email`), where identity's mails land."""

    @abstractmethod
    def identity_cli(self, *args: str) -> str:
        """Run `flask --app identity ARGS` inside the running stack; return its stdout.

        Raises:
            StackError: the command failed (the message has its output).
        """

    @abstractmethod
    def service_logs(self, name: str) -> str:
        """What service `name` (identity, items, gateway, identity-relay, items-consumer,
        identity-housekeeping, items-housekeeping) has logged so far."""

    def sql(self, service: str, query: str) -> list[tuple[str, ...]]:
        """Run `query` on the database of `service` (one of `DATABASES`) as the service's own
        database user, in a transaction of its own; its rows, every value as text (NULL as
        ""). White-box drills only: the suite otherwise sees the stack through its gateway.

        Raises:
            StackError: the query failed (the message has the database's answer).
        """
        if service not in DATABASES:
            raise ValueError(f"unknown database {service!r}: expected one of {DATABASES}")
        return self._sql(service, query)

    @abstractmethod
    def _sql(self, service: str, query: str) -> list[tuple[str, ...]]: ...

    def metrics(self, unit: str) -> str:
        """The Prometheus exposition of `RELAY` or `CONSUMER` (what the running process counted
        since it started).

        Raises:
            StackError: the unit's metrics port did not answer (the unit is not running).
        """
        if unit not in METRICS_PORTS:
            raise ValueError(f"{unit!r} serves no metrics: expected one of {list(METRICS_PORTS)}")
        return self._metrics(unit)

    @abstractmethod
    def _metrics(self, unit: str) -> str: ...

    # -- units: stop, kill, start ------------------------------------------------------------

    def stop(self, unit: str) -> None:
        """Stop `unit` (one of `UNITS`) as an operator would (SIGTERM: it finishes what it has in
        hand) and return once it is down."""
        self._stop(_known(unit))

    def kill(self, unit: str) -> None:
        """SIGKILL `unit` (one of `UNITS`): no cleanup, what it had in hand is cut off."""
        self._kill(_known(unit))

    def start(self, unit: str) -> None:
        """Start `unit` (one of `UNITS`) again, unless it runs; return once it works: identity
        answers through the gateway, the relay and the consumer have started anew, the broker
        accepts connections."""
        _known(unit)
        marker = STARTED_MARKERS.get(unit)
        started_before = self.service_logs(unit).count(marker) if marker else 0
        restarted = not self._is_running(unit)
        if restarted:
            self._start(unit)
        if unit == IDENTITY:
            self.wait_until_identity_answers(timeout=IDENTITY_RESTART_SECONDS)
        elif unit == BROKER:
            self._wait(self._broker_ready, timeout=UNIT_START_SECONDS, what="the broker ready")
        elif marker is not None and restarted:
            self._wait(
                lambda: self.service_logs(unit).count(marker) > started_before,
                timeout=UNIT_START_SECONDS,
                what=f"{unit} started",
            )

    def start_in_background(self, unit: str) -> None:
        """Start `RELAY` or `CONSUMER` again and return at once, for a drill that acts on it
        while it starts working (it may be killed before `start` would have returned).

        Raises:
            StackError: the unit is running already.
        """
        if unit not in STARTED_MARKERS:
            raise ValueError(f"expected one of {list(STARTED_MARKERS)}, not {unit!r}")
        if self._is_running(unit):
            raise StackError(f"{unit} is running already")
        self._start(unit)

    @abstractmethod
    def _stop(self, unit: str) -> None: ...

    @abstractmethod
    def _kill(self, unit: str) -> None: ...

    @abstractmethod
    def _start(self, unit: str) -> None: ...

    @abstractmethod
    def _is_running(self, unit: str) -> bool: ...

    @abstractmethod
    def _broker_ready(self) -> bool: ...

    # -- readiness ---------------------------------------------------------------------------

    def _died(self) -> str | None:
        """Why the stack is gone for good (checked while waiting), or None."""
        return None

    def _diagnostics(self) -> str:
        """Where to look when it fails to start."""
        return ""

    def _wait(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        def check() -> bool:
            if (reason := self._died()) is not None:
                raise StackError(reason)
            return condition()

        try:
            wait_until(check, timeout=timeout, what=what, interval=0.5)
        except WaitTimeoutError as exc:
            raise StackError(f"{exc}{self._diagnostics()}") from None

    def wait_until_ready(self, *, timeout: float) -> None:
        """Return once the gateway, identity and items answer through the gateway and the
        relay and the consumer run."""
        deadline = time.monotonic() + timeout
        self.wait_until_gateway_ready(timeout=timeout)
        self.wait_until_events_ready(timeout=max(deadline - time.monotonic(), 1))

    def wait_until_gateway_ready(self, *, timeout: float) -> None:
        """Return once the gateway, identity and items answer through the gateway."""
        checks = {
            "/health": 200,  # nginx itself
            "/.well-known/jwks.json": 200,  # identity and its database
            "/api/v1/items": 401,  # items (no token: 401 problem)
        }
        seen: dict[str, int | None] = {}
        with requests.Session() as http:

            def ready() -> bool:
                if (reason := self._died()) is not None:
                    raise StackError(reason)
                seen.update({path: _status(http, self.base_url + path) for path in checks})
                return seen == checks

            try:
                wait_until(ready, timeout=timeout, what=f"{self.mode} stack ready", interval=0.5)
            except WaitTimeoutError:
                raise StackError(
                    f"the {self.mode} stack was not ready within {timeout:g} s; through the "
                    f"gateway: {seen} (expected {checks}){self._diagnostics()}"
                ) from None

    def wait_until_events_ready(self, *, timeout: float) -> None:
        """Return once the relay and the consumer have started (the consumer consumes)."""
        for unit in STARTED_MARKERS:
            self._wait(partial(self._has_started, unit), timeout=timeout, what=f"{unit} started")

    def _has_started(self, unit: str) -> bool:
        return STARTED_MARKERS[unit] in self.service_logs(unit)

    def wait_until_identity_answers(self, *, timeout: float) -> None:
        with requests.Session() as http:
            self._wait(
                lambda: _status(http, self.base_url + "/.well-known/jwks.json") == 200,
                timeout=timeout,
                what="identity answering through the gateway",
            )


def _known(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}: expected one of {', '.join(UNITS)}")
    return unit


# -- native ----------------------------------------------------------------------------------


def nginx_binary() -> str | None:
    """nginx as deploy/run-local.sh finds it: PATH, else /usr/sbin."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


class RunLocal:
    """One `deploy/run-local.sh` in its own process group, its output appended to a file."""

    def __init__(self, *, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                ["bash", str(RUN_LOCAL)],
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: nothing can outlive stop()
            )

    def stop(self) -> None:
        """SIGTERM the script (it stops its gunicorns and nginx and waits), then wait for it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        # Anything of its process group still alive (the script was killed, or lost a child).
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the script and everything it started (its process group), then reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def died(self) -> str | None:
        if self._process is not None and self._process.poll() is not None:
            return f"deploy/run-local.sh exited with {self._process.returncode}{self.diagnostics()}"
        return None

    def diagnostics(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()[-40:]
        return f"; its output ({self.log_path}) ends with:\n" + "\n".join(lines)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


class NativeStack(Stack):
    """The services as local processes, run by deploy/run-local.sh in five units, and MailDev.

    Identity, the relay, the consumer and the mailer each run in a run-local.sh of their own
    (`RUN_LOCAL_SERVICES=identity|relay|consumer|mailer`), items and the gateway in a fifth, each
    with its own log file. The relay, the consumer and the mailer start once identity and items
    answer (their run-local.sh migrates nothing); the mailer sends to MailDev
    (deploy/install-prerequisites.sh maildev), which runs next to them on loopback. `broker`
    is the proxy in front of the stack's RabbitMQ vhost: cut, it is the broker gone
    (connections closed, none accepted); None when the stack runs on the embedded transport (no
    RabbitMQ on this machine).
    """

    mode = "native"

    def __init__(
        self,
        *,
        base_url: str,
        workdir: Path,
        env: Mapping[str, str],
        broker: TcpProxy | None,
        mail_url: str,
    ) -> None:
        super().__init__(base_url=base_url, workdir=workdir, mail_url=mail_url)
        self.env = dict(env)
        self._broker = broker

        def unit(services: str, log_name: str, **extra: str) -> RunLocal:
            return RunLocal(
                env={**env, "RUN_LOCAL_SERVICES": services, **extra},
                log_path=workdir / f"{log_name}.log",
            )

        self._web = {
            IDENTITY: unit("identity", "identity"),
            "items-gateway": unit(
                "items gateway", "items-gateway", GATEWAY_DIR=str(workdir / "gateway")
            ),
        }
        self._events = {
            RELAY: unit("relay", "relay"),
            CONSUMER: unit("consumer", "consumer"),
            MAILER: unit("mailer", "mailer"),
        }
        self._engines: dict[str, Engine] = {}

    def launch(self, *, timeout: float) -> None:
        """Start every unit; return once the stack is ready (`wait_until_ready`)."""
        deadline = time.monotonic() + timeout
        for web in self._web.values():
            web.start()
        self.wait_until_gateway_ready(timeout=timeout)
        for events in self._events.values():
            events.start()
        self.wait_until_events_ready(timeout=max(deadline - time.monotonic(), 1))
        # run-local.sh passes EVENTS_BROKER_URL on to both services: were it lost, they would
        # still exchange events, on the embedded transport under var/, and no test would notice.
        broker = describe(self.env["EVENTS_BROKER_URL"])
        for unit in (RELAY, CONSUMER):
            if broker not in self.service_logs(unit):
                raise StackError(f"{unit} does not use the stack's broker {broker}")

    def shut_down(self) -> None:
        for unit in (*self._events.values(), *reversed(self._web.values())):
            unit.stop()
        for engine in self._engines.values():
            engine.dispose()

    def _run_locals(self) -> list[RunLocal]:
        return [*self._web.values(), *self._events.values()]

    def _died(self) -> str | None:
        return next((reason for unit in self._run_locals() if (reason := unit.died())), None)

    def _diagnostics(self) -> str:
        return "".join(unit.diagnostics() for unit in self._run_locals())

    def identity_cli(self, *args: str) -> str:
        return _run(
            [str(REPO_ROOT / ".venv" / "bin" / "flask"), "--app", "identity", *args],
            env=self.env,
        )

    def _run_local(self, unit: str) -> RunLocal:
        return {**self._web, **self._events}[unit]

    def _proxy(self) -> TcpProxy:
        if self._broker is None:
            raise StackError("this native stack runs on the embedded transport: no broker")
        return self._broker

    def _stop(self, unit: str) -> None:
        if unit == BROKER:
            self._proxy().cut()
        else:
            self._run_local(unit).stop()

    def _kill(self, unit: str) -> None:
        if unit == BROKER:
            self._proxy().cut()
        else:
            self._run_local(unit).kill()

    def _start(self, unit: str) -> None:
        if unit == BROKER:
            self._proxy().restore()
        else:
            self._run_local(unit).start()

    def _is_running(self, unit: str) -> bool:
        return unit != BROKER and self._run_local(unit).is_running

    def _broker_ready(self) -> bool:
        self._proxy()  # raises on the embedded transport
        return True  # a restored proxy forwards new connections at once

    def _sql(self, service: str, query: str) -> list[tuple[str, ...]]:
        if service not in self._engines:
            url = self.env[f"{service.upper()}_DATABASE_URL"]
            self._engines[service] = create_engine(url, poolclass=NullPool)
        try:
            with self._engines[service].begin() as connection:
                result = connection.exec_driver_sql(query)
                rows = result.all() if result.returns_rows else []
        except SQLAlchemyError as exc:
            raise StackError(f"{service}'s database: {query}: {exc}") from None
        return [tuple("" if value is None else str(value) for value in row) for row in rows]

    def _metrics(self, unit: str) -> str:
        port = self.env[{RELAY: "RELAY_METRICS_PORT", CONSUMER: "CONSUMER_METRICS_PORT"}[unit]]
        try:
            with requests.get(f"http://127.0.0.1:{port}/metrics", timeout=3) as response:
                response.raise_for_status()
                return response.text
        except requests.RequestException as exc:
            raise StackError(f"{unit}'s metrics: {exc}") from None

    def service_logs(self, name: str) -> str:
        """The output of the run-local.sh that runs `name` (a service's housekeeping runs in
        the service's run-local.sh)."""
        if name in ("identity", "identity-housekeeping"):
            return self._web[IDENTITY].logs()
        if name in self._events:
            return self._events[name].logs()
        return self._web["items-gateway"].logs()


def _native_env(
    *,
    identity_db: str,
    items_db: str,
    broker_url: str,
    ports: Mapping[str, int],
    otlp_endpoint: str,
) -> dict[str, str]:
    """The environment of every run-local.sh unit; the mailer sends to the stack's MailDev
    (`ports["smtp"]`)."""
    # The caller's own settings (IDENTITY_*, ITEMS_*, GATEWAY_*, an ITEMS_JWKS_URL or a broker
    # of a `make run` elsewhere) must not leak into the stack under test.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            (
                "IDENTITY_",
                "ITEMS_",
                "GATEWAY_",
                "PROMETHEUS_",
                "RUN_LOCAL_",
                "EVENTS_",
                "RELAY_",
                "CONSUMER_",
                "OTEL_",
            )
        )
    }
    env.update(DRILL_SETTINGS)
    env.update(
        IDENTITY_PORT=str(ports["identity"]),
        ITEMS_PORT=str(ports["items"]),
        GATEWAY_LISTEN=f"127.0.0.1:{ports['gateway']}",
        RELAY_METRICS_PORT=str(ports["relay"]),
        CONSUMER_METRICS_PORT=str(ports["consumer"]),
        IDENTITY_DATABASE_URL=identity_db,
        ITEMS_DATABASE_URL=items_db,
        # run-local.sh makes it both services' broker, as a user of `make run` would set it.
        EVENTS_BROKER_URL=broker_url,
        IDENTITY_MAIL_BACKEND="smtp",
        IDENTITY_SMTP_HOST="127.0.0.1",
        IDENTITY_SMTP_PORT=str(ports["smtp"]),
        IDENTITY_SMTP_STARTTLS="false",
        IDENTITY_MAIL_POLL_SECONDS="0.2",
        PYTHONUNBUFFERED="1",
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
        OTEL_BSP_SCHEDULE_DELAY=str(SPAN_EXPORT_DELAY_MS),
    )
    return env


MAILDEV_BINARY: Final = REPO_ROOT / ".tools" / "maildev" / "node_modules" / ".bin" / "maildev"


@contextmanager
def _native_mail_catcher(workdir: Path, *, smtp_port: int, web_port: int) -> Iterator[str]:
    """MailDev (deploy/install-prerequisites.sh maildev) on loopback: its API's URL.

    Raises:
        StackUnavailableError: MailDev is not installed.
        StackError: it did not answer in time.
    """
    if not MAILDEV_BINARY.exists():
        raise StackUnavailableError(
            f"MailDev not found at {MAILDEV_BINARY} (deploy/install-prerequisites.sh maildev)"
        )
    log = (workdir / "maildev.log").open("w")
    command = [str(MAILDEV_BINARY), "--ip", "127.0.0.1", "--web-ip", "127.0.0.1"]
    command += ["--smtp", str(smtp_port), "--web", str(web_port)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 30
        with requests.Session() as http:
            while _status(http, url + "/healthz") != 200:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise StackError(f"MailDev did not start (see {workdir / 'maildev.log'})")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@contextmanager
def _native_broker(workdir: Path) -> Iterator[tuple[str, TcpProxy | None]]:
    """A RabbitMQ vhost of the stack's own behind a proxy the stack can cut: its URL through
    the proxy, and the proxy. Without RabbitMQ (and unless REQUIRE_RABBITMQ=1): the embedded
    transport on a file of the run, and no proxy.

    Raises:
        RabbitMQUnavailableError: no RabbitMQ while one is required (REQUIRE_RABBITMQ=1, CI).
    """
    with ExitStack() as cleanup:
        try:
            vhost_url = cleanup.enter_context(rabbitmq_vhost("e2e"))
        except RabbitMQUnavailableError:
            if rabbitmq_required():  # CI included
                raise
            yield f"sqla+sqlite:///{workdir / 'events.db'}", None
            return
        address = urlsplit(vhost_url)
        proxy = cleanup.enter_context(
            TcpProxy(address.hostname or "127.0.0.1", address.port or 5672)
        )
        netloc = address.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{proxy.port}"
        yield urlunsplit(address._replace(netloc=netloc)), proxy


@contextmanager
def native_stack(workdir: Path, *, otlp_endpoint: str) -> Iterator[NativeStack]:
    """deploy/run-local.sh on two databases and a RabbitMQ vhost created for this run (dropped
    afterwards).

    Raises:
        StackUnavailableError: no nginx on PATH.
        PostgresUnavailableError: neither TEST_DATABASE_URL nor a Docker engine for PostgreSQL.
        RabbitMQUnavailableError: no RabbitMQ while REQUIRE_RABBITMQ=1.
        StackError: the stack did not become ready (the message has the end of its output).
    """
    if nginx_binary() is None:
        raise StackUnavailableError("nginx not found (apt-get install nginx)")
    with ExitStack() as cleanup:
        server = cleanup.enter_context(postgres_server())
        identity_db = cleanup.enter_context(server.temporary_database("e2e_identity"))
        items_db = cleanup.enter_context(server.temporary_database("e2e_items"))
        broker_url, proxy = cleanup.enter_context(_native_broker(workdir))
        names = ("identity", "items", "gateway", "relay", "consumer", "smtp", "mail_web")
        ports = dict(zip(names, free_ports(len(names)), strict=True))
        mail_url = cleanup.enter_context(
            _native_mail_catcher(workdir, smtp_port=ports["smtp"], web_port=ports["mail_web"])
        )
        stack = NativeStack(
            base_url=f"http://127.0.0.1:{ports['gateway']}",
            workdir=workdir,
            env=_native_env(
                identity_db=identity_db,
                items_db=items_db,
                broker_url=broker_url,
                ports=ports,
                otlp_endpoint=otlp_endpoint,
            ),
            broker=proxy,
            mail_url=mail_url,
        )
        cleanup.callback(stack.shut_down)  # runs before the databases and the vhost go
        stack.launch(timeout=NATIVE_READY_SECONDS)
        yield stack


# -- compose ---------------------------------------------------------------------------------


class ComposeStack(Stack):
    """docker-compose.yml under its own project name; commands via `docker compose`."""

    mode = "compose"

    def __init__(
        self, *, base_url: str, workdir: Path, compose: DockerCompose, mail_url: str
    ) -> None:
        super().__init__(base_url=base_url, workdir=workdir, mail_url=mail_url)
        self._compose = compose

    def compose(self, *args: str) -> str:
        """`docker compose ARGS` for this project; its stdout."""
        return _run([*self._compose.docker_compose_command(), *args], cwd=REPO_ROOT)

    def _diagnostics(self) -> str:
        try:
            containers = self.compose("ps", "-a", "-q").split()
            addresses = _run(
                [
                    "docker",
                    "inspect",
                    "-f",
                    "{{.Name}} {{.State.Status}} "
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                    *containers,
                ]
            )
            return f"; containers (name, state, address):\n{addresses}"
        except StackError as exc:
            return f"; {exc}"

    def identity_cli(self, *args: str) -> str:
        return self.compose("exec", "-T", "identity", "flask", "--app", "identity", *args)

    def _stop(self, unit: str) -> None:
        self.compose("stop", unit)

    def _kill(self, unit: str) -> None:
        self.compose("kill", "-s", "KILL", unit)

    def _start(self, unit: str) -> None:
        self.compose("start", unit)

    def _is_running(self, unit: str) -> bool:
        return bool(self.compose("ps", "--status", "running", "-q", unit).strip())

    def _broker_ready(self) -> bool:
        container = self.compose("ps", "-q", BROKER).strip()
        if not container:
            return False
        health = _run(["docker", "inspect", "-f", "{{.State.Health.Status}}", container])
        return health.strip() == "healthy"

    def service_logs(self, name: str) -> str:
        return self.compose("logs", "--no-color", "--no-log-prefix", name)

    def _sql(self, service: str, query: str) -> list[tuple[str, ...]]:
        # The compose file's database service, user and database are all named for the service.
        output = self.compose(
            "exec", "-T", f"{service}-db",
            "psql", "-X", "-q", "--csv", "--tuples-only", "-v", "ON_ERROR_STOP=1",
            "-U", service, "-d", service, "-c", query,
        )  # fmt: skip
        return [tuple(row) for row in csv.reader(io.StringIO(output))]

    def _metrics(self, unit: str) -> str:
        # Served inside the compose network only; the unit's own image has Python.
        fetch = (
            "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen("
            f"'http://127.0.0.1:{METRICS_PORTS[unit]}/metrics', timeout=3).read().decode())"
        )
        return self.compose("exec", "-T", unit, "python", "-c", fetch)


def docker_engine_problem() -> str | None:
    """Why `docker info` does not answer, or None when it does."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed (deploy/docker-engine.sh installs it)"
    try:
        result = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if result.returncode != 0:
        return f"`docker info` failed: {result.stderr.strip()[-300:]}"
    return None


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the duration (DockerCompose's commands inherit this environment)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def compose_stack(workdir: Path) -> Iterator[ComposeStack]:
    """docker-compose.yml, built, then `down -v`.

    Raises:
        StackUnavailableError: no Docker engine.
        StackError: compose failed, or the stack did not become ready.
    """
    if (problem := docker_engine_problem()) is not None:
        raise StackUnavailableError(problem)
    gateway_port, mail_port = free_ports(2)
    environment = {
        # The environment compose runs in: these win over a .env file and the caller's exports.
        "COMPOSE_PROJECT_NAME": f"e2e-{uuid.uuid4().hex[:10]}",
        "GATEWAY_PORT": str(gateway_port),
        "MAILDEV_PORT": str(mail_port),
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",  # off, whatever the caller exported
        **DRILL_SETTINGS,
    }
    compose = DockerCompose(
        REPO_ROOT, compose_file_name=COMPOSE_FILES, build=True, wait=False, quiet_build=True
    )
    stack = ComposeStack(
        base_url=f"http://127.0.0.1:{gateway_port}",
        workdir=workdir,
        compose=compose,
        mail_url=f"http://127.0.0.1:{mail_port}",
    )
    with _environ(environment):
        try:
            try:
                compose.start()  # `up --build --detach`: returns once the gateway has started
            except subprocess.CalledProcessError as exc:
                raise StackError(f"docker compose up failed:\n{_output(exc)}") from None
            stack.wait_until_ready(timeout=COMPOSE_READY_SECONDS)
            yield stack
        finally:
            _save_compose_logs(stack)
            compose.stop()  # `down --volumes`


def _save_compose_logs(stack: ComposeStack) -> None:
    """Keep every container's log next to the test run (compose's own copy goes with `down`)."""
    with suppress(StackError):
        (stack.workdir / "compose.log").write_text(stack.compose("logs", "--no-color"))


# -- helpers ---------------------------------------------------------------------------------


def _output(exc: subprocess.CalledProcessError) -> str:
    def text(value: str | bytes | None) -> str:
        return value.decode(errors="replace") if isinstance(value, bytes) else value or ""

    return f"{text(exc.stdout)[-2000:]}\n{text(exc.stderr)[-2000:]}".strip()


def _run(command: list[str], *, env: Mapping[str, str] | None = None, cwd: Path = REPO_ROOT) -> str:
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise StackError(
            f"{' '.join(command)} failed ({exc.returncode}):\n{_output(exc)}"
        ) from None
    except subprocess.TimeoutExpired:
        raise StackError(f"{' '.join(command)}: no answer within {COMMAND_SECONDS} s") from None
    return result.stdout


@contextmanager
def running_stack(mode: str, workdir: Path) -> Iterator[Stack]:
    """The stack in `mode` (see MODES), torn down afterwards. The native stack's services export
    their spans to an OTLP receiver of the test run's own (`Stack.traces`): one mode runs with
    tracing on, the other (compose) as `docker compose up` does by default, with it off."""
    if mode == "native":
        with (
            OtlpReceiver(keep=SPANS_KEPT) as traces,
            native_stack(workdir, otlp_endpoint=traces.endpoint()) as native,
        ):
            native.traces = traces
            yield native
    elif mode == "compose":
        with compose_stack(workdir) as composed:
            yield composed
    else:
        raise ValueError(f"STACK={mode!r}: expected one of {', '.join(MODES)}")
