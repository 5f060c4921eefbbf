"""Which gunicorn worker of a service did what, read from the service's log.

Every log line carries the pid of the process that wrote it. A request sent with an
`X-Request-ID` of the test's own is found in the service's access log (`"event": "request"`,
its `request_id`), which names the worker that answered it. Revocations and key changes must
reach *every* worker; nginx spreads requests over its kept-alive connections to them, so
`ask_every_worker` sends requests concurrently until each worker has answered some.
"""

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import requests

from e2e.stack import ITEMS_WORKERS, Stack
from e2e.waiting import wait_until

BATCH: Final = 8
"""Requests in flight at once: enough that nginx opens connections to more than one worker."""
EVERY_WORKER_SECONDS: Final = 10
_REQUEST_ID: Final = re.compile(r'"request_id": "([0-9a-f]{32})"')


@dataclass(frozen=True, slots=True)
class WorkerAnswers:
    """Every answer a test got, and how many of them each worker (by pid) gave."""

    responses: list[requests.Response]
    by_worker: dict[int, int]

    @property
    def statuses(self) -> set[int]:
        return {response.status_code for response in self.responses}


def log_records(logs: str, event: str) -> list[dict[str, object]]:
    """The JSON log records whose `event` is `event`, in order."""
    needle = json.dumps({"event": event})[1:-1]  # '"event": "..."' as the log renders it
    records = []
    for line in logs.splitlines():
        if needle in line and line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == event:
                records.append(record)
    return records


def workers_that_logged(logs: str, event: str, *, after: int = 0) -> set[int]:
    """The pids that logged `event` past the first `after` characters of `logs`."""
    return {int(str(record["pid"])) for record in log_records(logs[after:], event)}


def ask_every_worker(
    stack: Stack,
    *,
    path: str,
    token: str,
    service: str = "items",
    workers: int = ITEMS_WORKERS,
    timeout: float = EVERY_WORKER_SECONDS,
) -> WorkerAnswers:
    """GET `path` with `token` through the gateway, `BATCH` requests at a time, until every one of
    `service`'s `workers` has answered at least one; every answer and who gave it.

    Raises:
        WaitTimeoutError: fewer workers answered within `timeout`.
    """
    responses: dict[str, requests.Response] = {}
    answered_by: dict[str, int] = {}

    def send(request_id: str) -> requests.Response:
        return requests.get(
            stack.base_url + path,
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
            timeout=15,
        )

    def every_worker_answered() -> dict[int, int] | None:
        request_ids = [uuid.uuid4().hex for _ in range(BATCH)]
        with ThreadPoolExecutor(BATCH) as pool:
            responses.update(zip(request_ids, pool.map(send, request_ids), strict=True))
        for line in stack.service_logs(service).splitlines():
            found = _REQUEST_ID.search(line)
            if found and found.group(1) in responses and '"event": "request"' in line:
                answered_by[found.group(1)] = int(json.loads(line)["pid"])
        counts: dict[int, int] = {}
        for pid in answered_by.values():
            counts[pid] = counts.get(pid, 0) + 1
        return counts if len(counts) >= workers else None

    try:
        by_worker = wait_until(
            every_worker_answered,
            timeout=timeout,
            interval=0.1,
            what=f"answers from each of {service}'s {workers} workers",
        )
    finally:
        for response in responses.values():
            response.close()
    return WorkerAnswers(list(responses.values()), by_worker)
