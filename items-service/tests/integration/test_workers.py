"""Every gunicorn worker learns what the event consumer applied: items under real gunicorn
(2 workers), a JWKS server the test controls, and the revocation feed of a real database."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from items.services.event_service import IdentityEventService
from service_kit.events.contract import CloudEvent, KeyRotated, Payload, SessionRevoked
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer
from tests.conftest import AUDIENCE, ISSUER, TokenIssuer

pytestmark = pytest.mark.postgres

WORKERS = 2
REQUESTS = 40  # each on a new connection, so both workers answer some
WAIT_SECONDS = 20
POLL_SECONDS = 0.1


class JwksServer:
    """Serves a JWKS the test sets, counts the fetches, and can play dead (503)."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.is_down = False
        self.fetches = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.fetches += 1
                    body, status = json.dumps({"keys": server.keys}).encode(), 200
                    if server.is_down:
                        body, status = b"down", 503
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/jwks.json"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> "JwksServer":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def fetch_count(self) -> int:
        with self._lock:
            return self.fetches


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT_SECONDS} s"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def issuer_with_kid(kid: str) -> TokenIssuer:
    return TokenIssuer(FakeClock(datetime.now(UTC)), kid=kid)


def token_of(issuer: TokenIssuer, **claims: Any) -> str:
    return issuer.token(now=datetime.now(UTC), **claims)


@pytest.fixture
def old_key() -> TokenIssuer:
    return issuer_with_kid("key-old")


@pytest.fixture
def jwks(old_key: TokenIssuer) -> Iterator[JwksServer]:
    with JwksServer() as server:
        server.keys = [old_key.public_jwk()]
        yield server


@pytest.fixture(scope="module")
def engine(module_database_url: str) -> Iterator[Engine]:
    engine = create_engine(module_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def items_url(module_database_url: str, jwks: JwksServer, tmp_path: Path) -> Iterator[str]:
    """items under gunicorn with 2 workers; both have loaded the JWKS once at start."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ITEMS_", "PROMETHEUS_"))
    }
    env.update(
        ITEMS_ENV="test",
        ITEMS_DATABASE_URL=module_database_url,
        ITEMS_JWKS_URL=jwks.url,
        ITEMS_JWKS_CACHE_SECONDS="3600",  # no refetch but the one the feed asks for
        ITEMS_JWKS_MIN_REFETCH_SECONDS="3600",
        ITEMS_TOKEN_ISSUER=ISSUER,
        ITEMS_TOKEN_AUDIENCE=AUDIENCE,
        ITEMS_REVOCATION_POLL_SECONDS=str(POLL_SECONDS),
        ITEMS_LOG_LEVEL="WARNING",
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_THREADS="2",
        LOG_LEVEL="WARNING",
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:service_kit.gunicorn_config",
                "-b",
                f"127.0.0.1:{port}",
                "items:create_app()",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url, process, log_path), "gunicorn answering")
        wait_for(lambda: jwks.fetch_count() >= WORKERS, "every worker's JWKS warm-up")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str, process: subprocess.Popen[bytes], log_path: Path) -> bool:
    assert process.poll() is None, log_path.read_text()
    try:
        return requests.get(f"{url}/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def apply(engine: Engine) -> Callable[[Payload], None]:
    """Apply an event and commit it, as the consumer does."""

    def applier(payload: Payload) -> None:
        with Session(engine) as session:
            IdentityEventService(session, revocation_lifetime_seconds=930).apply(
                CloudEvent.of(payload, event_id=uuid.uuid4(), time=datetime.now(UTC))
            )

    return applier


def statuses(url: str, token: str) -> list[int]:
    """The answers to REQUESTS list calls, each on a new connection (any worker may answer)."""
    return [
        requests.get(f"{url}/api/v1/items", headers=bearer(token), timeout=10).status_code
        for _ in range(REQUESTS)
    ]


def test_every_worker_reloads_the_jwks_when_a_key_rotation_is_applied(
    items_url: str,
    jwks: JwksServer,
    old_key: TokenIssuer,
    apply: Callable[[Payload], None],
) -> None:
    new_key = issuer_with_kid("key-new")
    jwks.keys = [old_key.public_jwk(), new_key.public_jwk()]
    fetched_before = jwks.fetch_count()

    apply(KeyRotated(kid=new_key.kid))

    wait_for(lambda: jwks.fetch_count() >= fetched_before + WORKERS, "a JWKS fetch by every worker")
    jwks.is_down = True  # identity's outage right after the rotation
    assert statuses(items_url, token_of(new_key)) == [200] * REQUESTS
    assert jwks.fetch_count() == fetched_before + WORKERS


def test_every_worker_refuses_a_token_of_a_revoked_session_once_the_revocation_is_applied(
    items_url: str, old_key: TokenIssuer, apply: Callable[[Payload], None]
) -> None:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    token = token_of(old_key, user_id=user_id, sid=str(session_id))
    assert statuses(items_url, token) == [200] * REQUESTS

    apply(SessionRevoked(user_id=user_id, sequence=1, session_ids=[session_id], reason="logout"))

    time.sleep(5 * POLL_SECONDS)
    assert statuses(items_url, token) == [401] * REQUESTS


def test_each_worker_accepts_on_a_listening_socket_of_its_own(items_url: str) -> None:
    """GUNICORN_REUSE_PORT (on by default): the kernel spreads new connections over the workers'
    sockets, instead of the first worker to wake taking a whole burst from one shared socket."""
    port = items_url.rsplit(":", 1)[1]
    listening = subprocess.run(  # noqa: S603 - fixed arguments
        ["ss", "-Hltnp", f"( sport = :{port} )"],  # noqa: S607 - iproute2's ss on PATH
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    holders = [set(re.findall(r"pid=(\d+)", line)) for line in listening]
    assert len(holders) == WORKERS, listening
    assert all(len(pids) == 1 for pids in holders), listening  # not one socket shared by all
    assert len(set.union(*holders)) == WORKERS, listening
