"""The stack under test, reached only through its gateway. `STACK=native|compose` picks how.

- native: `deploy/run-local.sh` (what `make run` runs: both migrations, gunicorn x2, nginx from
  PATH) on two fresh PostgreSQL databases and free ports, its output captured to a file; stopped
  with SIGTERM (the script stops its children) and waited for. When the script can start a
  subset of the services (`RUN_LOCAL_SERVICES`), identity runs in one of its own, so the outage
  drill can stop and restart it; see `NativeStack`.
- compose: `docker-compose.yml` through testcontainers' `DockerCompose`, images built, under a
  project name of its own with the gateway on a free port; `down -v` afterwards.

Both run with `DRILL_SETTINGS`: key caches of a second or two, so the key-rotation drill takes
seconds instead of the production minutes, and a gateway auth rate that a flood exceeds but the
rest of the suite does not. Everything that waits has a deadline.
"""

import os
import shutil
import signal
import socket
import subprocess
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import ClassVar, Final

import requests
from testcontainers.compose import DockerCompose

from e2e.waiting import WaitTimeoutError, wait_until
from service_kit.testing.postgres import postgres_server

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
RUN_LOCAL: Final = REPO_ROOT / "deploy" / "run-local.sh"
COMPOSE_FILES: Final = ["docker-compose.yml"]
MODES: Final = ("native", "compose")

# The suite's own registrations and logins peak at about 30 requests above a 30 r/s rate (10 r/s
# with a burst of 20 is not enough for it); a flood of failed logins reaches 250+ per second.
AUTH_RATE_PER_SECOND: Final = 30
AUTH_BURST: Final = 60
KEY_CACHE_SECONDS: Final = 2
"""The longest key cache below: how long a key change takes to reach every worker."""

DRILL_SETTINGS: Final[Mapping[str, str]] = {
    "IDENTITY_VERIFICATION_KEY_CACHE_SECONDS": "1",
    "ITEMS_JWKS_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
    "ITEMS_JWKS_MIN_REFETCH_SECONDS": "1",
    "GATEWAY_AUTH_RATE": f"{AUTH_RATE_PER_SECOND}r/s",
    "GATEWAY_AUTH_BURST": str(AUTH_BURST),
    # One gunicorn worker per service. Key caches are per worker: after the rotation drill a
    # second items worker that never saw a token of the new key could not learn it while the
    # outage drill keeps identity down (a real, documented edge), and which worker nginx picks
    # would make that drill pass or fail at random.
    "WEB_CONCURRENCY": "1",
    # A cheap Argon2id profile: the suite hashes a few hundred passwords (tests only).
    "IDENTITY_ARGON2_TIME_COST": "1",
    "IDENTITY_ARGON2_MEMORY_COST_KIB": "1024",
    "IDENTITY_ARGON2_PARALLELISM": "1",
}

NATIVE_READY_SECONDS: Final = 60
COMPOSE_READY_SECONDS: Final = 180
IDENTITY_RESTART_SECONDS: Final = 60
STOP_SECONDS: Final = 30
COMMAND_SECONDS: Final = 120


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
    """A running stack: its gateway URL and the few operator actions the drills need."""

    mode: ClassVar[str]

    def __init__(self, *, base_url: str, workdir: Path) -> None:
        self.base_url = base_url
        self.workdir = workdir

    @abstractmethod
    def identity_cli(self, *args: str) -> str:
        """Run `flask --app identity ARGS` inside the running stack; return its stdout.

        Raises:
            StackError: the command failed (the message has its output).
        """

    @abstractmethod
    def stop_identity(self) -> None:
        """Stop identity-service (only it) and return once it is down."""

    @abstractmethod
    def start_identity(self) -> None:
        """Start identity-service again (if it is stopped); return once it answers through the
        gateway."""

    @abstractmethod
    def service_logs(self, name: str) -> str:
        """What service `name` (identity, items, gateway, identity-housekeeping,
        items-housekeeping) has logged so far."""

    def _died(self) -> str | None:
        """Why the stack is gone for good (checked while waiting), or None."""
        return None

    def _diagnostics(self) -> str:
        """Where to look when it fails to start."""
        return ""

    def wait_until_ready(self, *, timeout: float) -> None:
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

    def wait_until_identity_answers(self, *, timeout: float) -> None:
        with requests.Session() as http:
            try:
                wait_until(
                    lambda: _status(http, self.base_url + "/.well-known/jwks.json") == 200,
                    timeout=timeout,
                    what="identity answering through the gateway",
                    interval=0.5,
                )
            except WaitTimeoutError as exc:
                raise StackError(f"{exc}{self._diagnostics()}") from None


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
    """The services as local processes, run by deploy/run-local.sh.

    Identity runs in a run-local.sh of its own (`RUN_LOCAL_SERVICES=identity`, so it can be
    stopped and started again) and items + gateway in another, each with its own log file.
    """

    mode = "native"

    def __init__(self, *, base_url: str, workdir: Path, env: Mapping[str, str]) -> None:
        super().__init__(base_url=base_url, workdir=workdir)
        self.env = dict(env)
        self._identity = RunLocal(
            env={**env, "RUN_LOCAL_SERVICES": "identity"},
            log_path=workdir / "identity.log",
        )
        self._rest = RunLocal(
            env={
                **env,
                "RUN_LOCAL_SERVICES": "items gateway",
                "GATEWAY_DIR": str(workdir / "gateway"),
            },
            log_path=workdir / "items-gateway.log",
        )

    def start(self) -> None:
        self._identity.start()
        self._rest.start()

    def stop(self) -> None:
        self._rest.stop()
        self._identity.stop()

    def _units(self) -> list[RunLocal]:
        return [self._identity, self._rest]

    def _died(self) -> str | None:
        return next((reason for unit in self._units() if (reason := unit.died())), None)

    def _diagnostics(self) -> str:
        return "".join(unit.diagnostics() for unit in self._units())

    def identity_cli(self, *args: str) -> str:
        return _run(
            [str(REPO_ROOT / ".venv" / "bin" / "flask"), "--app", "identity", *args],
            env=self.env,
        )

    def stop_identity(self) -> None:
        self._identity.stop()

    def start_identity(self) -> None:
        if not self._identity.is_running:
            self._identity.start()
        self.wait_until_identity_answers(timeout=IDENTITY_RESTART_SECONDS)

    def service_logs(self, name: str) -> str:
        """The output of the run-local.sh that runs `name` (a service's housekeeping runs in
        the service's run-local.sh)."""
        if name in ("identity", "identity-housekeeping"):
            return self._identity.logs()
        return self._rest.logs()


def _native_env(
    *, identity_port: int, items_port: int, gateway_port: int, identity_db: str, items_db: str
) -> dict[str, str]:
    # The caller's own service settings (IDENTITY_*, ITEMS_*, GATEWAY_*, an ITEMS_JWKS_URL of a
    # `make run` elsewhere) must not leak into the stack under test.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("IDENTITY_", "ITEMS_", "GATEWAY_", "PROMETHEUS_", "RUN_LOCAL_"))
    }
    env.update(DRILL_SETTINGS)
    env.update(
        IDENTITY_PORT=str(identity_port),
        ITEMS_PORT=str(items_port),
        GATEWAY_LISTEN=f"127.0.0.1:{gateway_port}",
        IDENTITY_DATABASE_URL=identity_db,
        ITEMS_DATABASE_URL=items_db,
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def native_stack(workdir: Path) -> Iterator[NativeStack]:
    """deploy/run-local.sh on two databases created for this run (dropped afterwards).

    Raises:
        StackUnavailableError: no nginx on PATH.
        PostgresUnavailableError: neither TEST_DATABASE_URL nor a Docker engine for PostgreSQL.
        StackError: the stack did not become ready (the message has the end of its output).
    """
    if nginx_binary() is None:
        raise StackUnavailableError("nginx not found (apt-get install nginx)")
    with ExitStack() as cleanup:
        server = cleanup.enter_context(postgres_server())
        identity_db = cleanup.enter_context(server.temporary_database("e2e_identity"))
        items_db = cleanup.enter_context(server.temporary_database("e2e_items"))
        identity_port, items_port, gateway_port = free_ports(3)
        stack = NativeStack(
            base_url=f"http://127.0.0.1:{gateway_port}",
            workdir=workdir,
            env=_native_env(
                identity_port=identity_port,
                items_port=items_port,
                gateway_port=gateway_port,
                identity_db=identity_db,
                items_db=items_db,
            ),
        )
        cleanup.callback(stack.stop)  # runs before the databases are dropped
        stack.start()
        stack.wait_until_ready(timeout=NATIVE_READY_SECONDS)
        yield stack


# -- compose ---------------------------------------------------------------------------------


class ComposeStack(Stack):
    """docker-compose.yml under its own project name; commands via `docker compose`."""

    mode = "compose"

    def __init__(self, *, base_url: str, workdir: Path, compose: DockerCompose) -> None:
        super().__init__(base_url=base_url, workdir=workdir)
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

    def stop_identity(self) -> None:
        self.compose("stop", "identity")

    def start_identity(self) -> None:
        self.compose("start", "identity")
        self.wait_until_identity_answers(timeout=IDENTITY_RESTART_SECONDS)

    def service_logs(self, name: str) -> str:
        return self.compose("logs", "--no-color", "--no-log-prefix", name)


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
    (gateway_port,) = free_ports(1)
    environment = {
        # The environment compose runs in: these win over a .env file and the caller's exports.
        "COMPOSE_PROJECT_NAME": f"e2e-{uuid.uuid4().hex[:10]}",
        "GATEWAY_PORT": str(gateway_port),
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
        **DRILL_SETTINGS,
    }
    compose = DockerCompose(
        REPO_ROOT, compose_file_name=COMPOSE_FILES, build=True, wait=False, quiet_build=True
    )
    stack = ComposeStack(
        base_url=f"http://127.0.0.1:{gateway_port}", workdir=workdir, compose=compose
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
    """The stack in `mode` (see MODES), torn down afterwards."""
    if mode == "native":
        with native_stack(workdir) as native:
            yield native
    elif mode == "compose":
        with compose_stack(workdir) as composed:
            yield composed
    else:
        raise ValueError(f"STACK={mode!r}: expected one of {', '.join(MODES)}")
