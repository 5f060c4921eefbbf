"""Revoked access tokens at the items API: the app's `RevocationView` polls the revocation feed
of a real database (committed rows, this module's own) from its own thread.

Events are applied by `IdentityEventService` as the consumer applies them; each test then waits
for the view to catch up (a few poll intervals), as a real worker would.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from items import create_app
from items.services.event_service import IdentityEventService
from items.wiring import COMPONENTS_KEY
from service_kit.events.contract import CloudEvent, Payload, SessionRevoked, TokensRevoked
from service_kit.http.app import WARM_UPS_KEY
from service_kit.security.revocation import RevocationView
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer
from service_kit_testing.migrations import app_database
from service_kit_testing.tcp_proxy import TcpProxy
from tests.conftest import TokenIssuer, make_settings

pytestmark = pytest.mark.postgres

ITEMS = "/api/v1/items"
POLL_SECONDS = 0.05
MAX_STALENESS_SECONDS = 1.0
CATCH_UP_SECONDS = 5.0


@pytest.fixture(scope="module")
def feed_engine(module_database_url: str) -> Iterator[Engine]:
    engine = create_engine(module_database_url)
    yield engine
    engine.dispose()


def build_app(url: str, clock: FakeClock, issuer: TokenIssuer, **overrides: object) -> OpenAPI:
    values: dict[str, object] = {
        "database_url": url,
        "revocation_check": True,
        "revocation_poll_seconds": POLL_SECONDS,
        "revocation_max_staleness_seconds": MAX_STALENESS_SECONDS,
    }
    settings = make_settings(**{**values, **overrides})
    return create_app(settings, clock=clock, keys=issuer)


def shut_down(app: OpenAPI) -> None:
    view = app.extensions[COMPONENTS_KEY].revocations
    if isinstance(view, RevocationView):
        view.stop()
    app_database(app).dispose()


@pytest.fixture
def client(
    module_database_url: str, clock: FakeClock, issuer: TokenIssuer
) -> Iterator[FlaskClient]:
    app = build_app(module_database_url, clock, issuer)
    yield app.test_client()
    shut_down(app)


@pytest.fixture
def apply(feed_engine: Engine, clock: FakeClock) -> Callable[[Payload], None]:
    """Apply an event and commit it, as the consumer does."""

    def applier(payload: Payload) -> None:
        with Session(feed_engine) as session:
            service = IdentityEventService(session, revocation_lifetime_seconds=930, clock=clock)
            service.apply(CloudEvent.of(payload, event_id=uuid.uuid4(), time=clock.now()))

    return applier


def status_of(client: FlaskClient, token: str) -> int:
    return client.get(ITEMS, headers=bearer(token)).status_code


def wait_for_status(client: FlaskClient, token: str, status: int) -> None:
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while status_of(client, token) != status:
        assert time.monotonic() < deadline, f"still not {status} after {CATCH_UP_SECONDS} s"
        time.sleep(POLL_SECONDS)


def revoke_all_before(user_id: uuid.UUID, clock: FakeClock) -> TokensRevoked:
    return TokensRevoked(user_id=user_id, sequence=1, not_before=clock.now(), reason="logout_all")


def test_items_answer_401_invalid_token_when_the_tokens_session_was_revoked(
    client: FlaskClient, issuer: TokenIssuer, apply: Callable[[Payload], None]
) -> None:
    session_id = uuid.uuid4()
    token = issuer.token(user_id=uuid.uuid4(), sid=str(session_id))
    assert status_of(client, token) == 200

    apply(SessionRevoked(user_id=uuid.uuid4(), sequence=1, session_ids=[session_id], reason="x"))

    wait_for_status(client, token, 401)
    response = client.get(ITEMS, headers=bearer(token))
    assert response.content_type == "application/problem+json"
    assert response.json is not None
    assert response.json["code"] == "invalid_token"


def test_items_keep_answering_200_for_the_users_other_sessions_when_one_was_revoked(
    client: FlaskClient, issuer: TokenIssuer, apply: Callable[[Payload], None]
) -> None:
    user_id, revoked_session = uuid.uuid4(), uuid.uuid4()
    revoked = issuer.token(user_id=user_id, sid=str(revoked_session))
    other = issuer.token(user_id=user_id)

    apply(SessionRevoked(user_id=user_id, sequence=1, session_ids=[revoked_session], reason="x"))
    wait_for_status(client, revoked, 401)

    assert status_of(client, other) == 200


def test_items_answer_401_when_the_token_was_issued_before_the_users_not_before(
    client: FlaskClient, issuer: TokenIssuer, clock: FakeClock, apply: Callable[[Payload], None]
) -> None:
    user_id = uuid.uuid4()
    token = issuer.token(user_id=user_id, now=clock.now() - timedelta(seconds=1))

    apply(revoke_all_before(user_id, clock))

    wait_for_status(client, token, 401)


@pytest.mark.parametrize("issued_after_seconds", [0, 1], ids=["same-second", "a-second-later"])
def test_items_answer_200_when_the_token_was_issued_at_or_after_the_users_not_before(
    client: FlaskClient,
    issuer: TokenIssuer,
    clock: FakeClock,
    apply: Callable[[Payload], None],
    issued_after_seconds: int,
) -> None:
    user_id = uuid.uuid4()
    old = issuer.token(user_id=user_id, now=clock.now() - timedelta(seconds=1))
    apply(revoke_all_before(user_id, clock))
    wait_for_status(client, old, 401)  # the view has the revocation

    new = issuer.token(user_id=user_id, now=clock.now() + timedelta(seconds=issued_after_seconds))

    assert status_of(client, new) == 200


def _without_request_details(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in ("request_id", "instance")}


def test_revoked_token_gets_exactly_the_answer_of_a_forged_token(
    client: FlaskClient, issuer: TokenIssuer, apply: Callable[[Payload], None]
) -> None:
    session_id = uuid.uuid4()
    token = issuer.token(sid=str(session_id))
    apply(SessionRevoked(user_id=uuid.uuid4(), sequence=1, session_ids=[session_id], reason="x"))
    wait_for_status(client, token, 401)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    revoked_answer = client.get(ITEMS, headers=bearer(token))
    forged_answer = client.get(ITEMS, headers=bearer(forged))

    assert revoked_answer.status_code == forged_answer.status_code == 401
    assert revoked_answer.headers["WWW-Authenticate"] == forged_answer.headers["WWW-Authenticate"]
    assert revoked_answer.json is not None
    assert forged_answer.json is not None
    assert _without_request_details(revoked_answer.json) == _without_request_details(
        forged_answer.json
    )


def test_items_answer_503_revocations_unavailable_when_the_feed_cannot_be_read_for_too_long(
    module_database_url: str, clock: FakeClock, issuer: TokenIssuer
) -> None:
    url = make_url(module_database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        app = build_app(proxied, clock, issuer)
        try:
            client = app.test_client()
            token = issuer.token()
            assert status_of(client, token) == 200
            proxy.cut()
            time.sleep(MAX_STALENESS_SECONDS + 4 * POLL_SECONDS)

            response = client.get(ITEMS, headers=bearer(token))
        finally:
            shut_down(app)

    assert response.status_code == 503
    assert response.json is not None
    assert response.json["code"] == "revocations_unavailable"
    assert response.headers["Retry-After"] == "2"


def _statements_of_one_list_request(app: OpenAPI, token: str) -> int:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = app_database(app).engine
    client = app.test_client()
    assert status_of(client, token) == 200  # pools, caches and the view warmed up
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert status_of(client, token) == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_revocation_check_adds_no_database_statement_to_a_request(
    module_database_url: str, clock: FakeClock, issuer: TokenIssuer
) -> None:
    token = issuer.token()
    checked = build_app(module_database_url, clock, issuer)
    unchecked = build_app(module_database_url, clock, issuer, revocation_check=False)
    try:
        with_check = _statements_of_one_list_request(checked, token)
        without_check = _statements_of_one_list_request(unchecked, token)
    finally:
        shut_down(checked)
        shut_down(unchecked)

    assert with_check == without_check == 1


def test_each_worker_reads_the_revocation_feed_before_it_loads_the_keys(
    module_database_url: str,
) -> None:
    # The other order loses a key change committed between the two warm-ups: the keys predate
    # it, and the feed's first read takes it as already known.
    settings = make_settings(database_url=module_database_url, revocation_check=True)
    app = create_app(settings, clock=FakeClock())
    try:
        warm_ups = app.extensions[WARM_UPS_KEY]

        assert len(warm_ups) == 2
        assert warm_ups[0] == app.extensions[COMPONENTS_KEY].revocations.start
        assert warm_ups[1].__name__ == "warm_up"  # the JWKS client's
    finally:
        app_database(app).dispose()
