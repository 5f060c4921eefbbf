"""items while its database connections are cut under load (a restart, a failover).

Served over real HTTP on a database of this module's own with a real pool; the backends are
ended with `pg_terminate_backend` several times while threads create and list items.
"""

import threading
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import create_engine, select

from items import create_app
from items.models import Item
from service_kit.clock import SYSTEM_CLOCK
from service_kit.db import Database
from service_kit_testing import PostgresServer
from service_kit_testing.auth import bearer
from service_kit_testing.concurrency import Answer, live_server, under_load
from tests.conftest import TokenIssuer, make_settings

pytestmark = pytest.mark.postgres

LOAD_THREADS = 6
TERMINATIONS = 4
TERMINATION_INTERVAL_SECONDS = 0.5
REQUEST_TIMEOUT_SECONDS = 30


@pytest.fixture
def base_url(module_database_url: str, issuer: TokenIssuer) -> Iterator[str]:
    settings = make_settings(
        database_url=module_database_url,
        database_pool_size=LOAD_THREADS,
        database_max_overflow=0,
    )
    app = create_app(settings, keys=issuer, database=Database.from_settings(settings))
    with live_server(app, name="items-outage-server") as url:
        yield url


def _stored_ids(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        ids = connection.execute(select(Item.public_id)).scalars().all()
    engine.dispose()
    return {str(public_id) for public_id in ids}


def test_load_gets_no_500_and_keeps_every_acknowledged_item_when_backends_are_terminated(
    base_url: str, module_database_url: str, issuer: TokenIssuer, pg_server: PostgresServer
) -> None:
    answers: Counter[tuple[int, str | None]] = Counter()
    acknowledged: list[str] = []
    lock = threading.Lock()

    def load(thread: int, stop: threading.Event) -> None:
        token = issuer.token(user_id=uuid.uuid4(), now=SYSTEM_CLOCK.now())
        with requests.Session() as http:
            http.headers.update(bearer(token))
            sent = 0
            while not stop.is_set():
                sent += 1
                if sent % 3 == 0:
                    response = http.get(f"{base_url}/api/v1/items", timeout=REQUEST_TIMEOUT_SECONDS)
                else:
                    response = http.post(
                        f"{base_url}/api/v1/items",
                        json={"name": f"t{thread}-{sent}"},
                        headers={"Idempotency-Key": f"k{sent}"} if sent % 3 == 2 else {},
                        timeout=REQUEST_TIMEOUT_SECONDS,
                    )
                answer = Answer.read(response)
                with lock:
                    answers[answer.status, answer.code] += 1
                    if answer.status == 201:
                        acknowledged.append(str(answer.body["id"]))

    terminated = under_load(
        load,
        threads=LOAD_THREADS,
        disruption=lambda: pg_server.terminate_connections(module_database_url),
        times=TERMINATIONS,
        interval_seconds=TERMINATION_INTERVAL_SECONDS,
    )

    assert terminated >= TERMINATIONS  # the load held connections each time
    assert set(answers) <= {(200, None), (201, None), (503, "database_unavailable")}, answers
    assert set(acknowledged) <= _stored_ids(module_database_url)
