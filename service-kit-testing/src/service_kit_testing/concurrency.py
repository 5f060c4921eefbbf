"""Races for integration tests: calls released together, and an app served over real HTTP.

The rollback-per-test fixtures share one connection, so they cannot show what row locks and
unique indexes do when requests really overlap; these helpers serve an app on its own pool.
"""

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import requests
from flask import Flask
from werkzeug.serving import make_server

from service_kit_testing.migrations import app_database

PARALLEL = 20  # racing calls, unless a test asks for another number
JOIN_TIMEOUT_SECONDS = 60

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a live server answered: status, headers and the JSON body (else the text)."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def code(self) -> str | None:
        """The problem's stable `code`, if the body is a problem."""
        code: str | None = self.body.get("code")
        return code

    @classmethod
    def read(cls, response: requests.Response) -> Self:
        """The answer in `response` (whose body this reads)."""
        is_json = "json" in response.headers.get("Content-Type", "")
        body = response.json() if is_json else {"text": response.text}
        return cls(response.status_code, dict(response.headers), body)


def server_errors(answers: Iterable[Answer]) -> list[Answer]:
    """The answers with a 5xx status: a race must never produce one."""
    return [answer for answer in answers if answer.status >= 500]


def all_at_once(call: Callable[[int], T], *, count: int = PARALLEL) -> list[T]:
    """Run `call(i)` for each i below `count` in `count` threads released together by a barrier."""
    barrier = threading.Barrier(count, timeout=JOIN_TIMEOUT_SECONDS)

    def released(index: int) -> T:
        barrier.wait()
        return call(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(released, index) for index in range(count)]
        return [future.result(timeout=JOIN_TIMEOUT_SECONDS) for future in futures]


@contextmanager
def live_server(app: Flask, *, name: str) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 from a thread and yield its base URL; its pool closes after."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=JOIN_TIMEOUT_SECONDS)
        server.server_close()
        app_database(app).dispose()
    assert not thread.is_alive(), "the live server did not stop"  # noqa: S101


def under_load(
    load: Callable[[int, threading.Event], None],
    *,
    threads: int,
    disruption: Callable[[], int],
    times: int,
    interval_seconds: float,
) -> int:
    """Run `load(index, stop)` in `threads` threads while `disruption()` happens `times` times,
    `interval_seconds` apart (and once more that long before the load stops); return the sum of
    what the disruptions returned (for example the connections they cut). Each `load` loops
    until `stop` is set."""
    stop = threading.Event()
    workers = [threading.Thread(target=load, args=(index, stop)) for index in range(threads)]
    for worker in workers:
        worker.start()
    total = 0
    try:
        for _ in range(times):
            time.sleep(interval_seconds)
            total += disruption()
        time.sleep(interval_seconds)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=JOIN_TIMEOUT_SECONDS)
    return total
