"""`flask --app identity events relay` as a real process: killed with SIGKILL mid-batch, a new
relay publishes the rest and nothing is lost (only the batch in flight may arrive twice);
SIGTERM stops it cleanly after the batch in progress; it serves its metrics."""

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import requests

from service_kit.db import Database
from service_kit_testing.event_tap import EventTap
from tests.integration.relay_support import (
    WAIT_SECONDS,
    pending_count,
    sent_event_ids,
    wait_until,
    write_user_events,
)

pytestmark = pytest.mark.postgres

BATCH_SIZE = 250
USERS, PER_USER = 20, 50  # 1,000 events: four batches, a second or two of publishing


class RelayProcess:
    """One `events relay` process in a process group of its own, its output in a file."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def send(self, signum: signal.Signals) -> None:
        os.killpg(self.process.pid, signum)

    def wait(self) -> int:
        return self.process.wait(timeout=WAIT_SECONDS)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


StartRelay = Callable[..., AbstractContextManager[RelayProcess]]
"""`start_relay(*extra_args)`: a context manager running one relay process."""


@pytest.fixture
def start_relay(
    committing_database: Database, broker_url: str, tmp_path: Path
) -> Iterator[StartRelay]:
    started: list[RelayProcess] = []

    @contextmanager
    def start(*args: str) -> Iterator[RelayProcess]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("IDENTITY_")}
        env.update(
            IDENTITY_DATABASE_URL=committing_database.engine.url.render_as_string(
                hide_password=False
            ),
            IDENTITY_EVENTS_BROKER_URL=broker_url,
            IDENTITY_EVENTS_RELAY_BATCH_SIZE=str(BATCH_SIZE),
            IDENTITY_EVENTS_RELAY_POLL_SECONDS="0.05",
            IDENTITY_LOG_LEVEL="INFO",
        )
        log = tmp_path / f"relay-{len(started)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "flask", "--app", "identity", "events", "relay", *args],
                env=env,
                cwd=tmp_path,  # no .env file of the repository
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        relay = RelayProcess(process, log)
        started.append(relay)
        yield relay

    yield start
    for relay in started:
        if relay.process.poll() is None:
            relay.send(signal.SIGKILL)
            relay.process.wait(timeout=WAIT_SECONDS)


@pytest.fixture
def tap(broker_url: str) -> Iterator[EventTap]:
    with EventTap(broker_url) as tap:
        yield tap


def test_relay_killed_mid_batch_loses_no_event_when_another_relay_takes_over(
    committing_database: Database, start_relay: StartRelay, tap: EventTap
) -> None:
    written = write_user_events(committing_database.session_factory, users=USERS, per_user=PER_USER)
    with start_relay() as first:
        # Half way through the second batch: the first is marked sent, this one is not yet.
        tap.wait_for(lambda events: len(events) >= BATCH_SIZE * 3 // 2)
        first.send(signal.SIGKILL)
        first.wait()
    sent_before_kill = sent_event_ids(committing_database)
    published_before_kill = {event.id for event in tap.drain()}
    in_flight = published_before_kill - sent_before_kill
    assert in_flight, "the relay was not killed in the middle of a batch"

    with start_relay() as second:
        wait_until(lambda: pending_count(committing_database) == 0, what="the rest published")
        second.send(signal.SIGTERM)
        second.wait()
    tap.wait_for(lambda events: {event.id for event in events} >= set(written.event_ids))

    counts = Counter(event.id for event in tap.drain())
    assert set(counts) == set(written.event_ids)  # nothing lost
    duplicated = {event_id for event_id, count in counts.items() if count > 1}
    assert duplicated <= in_flight  # only the batch in flight came twice
    assert len(in_flight) <= BATCH_SIZE
    assert max(counts.values()) == 2 if duplicated else 1


def test_relay_stops_after_the_batch_in_progress_when_sent_sigterm(
    committing_database: Database, start_relay: StartRelay, tap: EventTap
) -> None:
    write_user_events(committing_database.session_factory, users=USERS, per_user=PER_USER)
    with start_relay() as relay:
        tap.wait_for(lambda events: len(events) >= BATCH_SIZE * 3 // 2)

        relay.send(signal.SIGTERM)

        assert relay.wait() == 0, relay.output()
    published = {event.id for event in tap.drain()}
    assert published <= sent_event_ids(committing_database)  # the batch was finished and saved
    assert pending_count(committing_database) > 0  # and nothing after it was started
    assert "event relay stopped" in relay.output()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_relay_serves_prometheus_metrics_on_the_metrics_port_when_asked_to(
    committing_database: Database, start_relay: StartRelay
) -> None:
    write_user_events(committing_database.session_factory, users=1, per_user=3)
    port = _free_port()

    with start_relay("--metrics-port", str(port)) as relay:

        def scrape() -> str | None:
            try:
                body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except requests.ConnectionError:
                assert relay.process.poll() is None, relay.output()
                return None
            published = 'outbox_published_events_total{type="identity.user.updated"} 3.0'
            return body if published in body else None

        body = wait_until(scrape, what="the relay's metrics counting 3 published events")

    assert "outbox_pending_events 0.0" in body
    assert "outbox_oldest_pending_age_seconds 0.0" in body
