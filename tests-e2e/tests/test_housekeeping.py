"""Housekeeping runs by itself: next to each service, the stack runs its prune commands at start
(then hourly) and logs each run. Compose: the `identity-housekeeping` and `items-housekeeping`
containers; native: the same runner, started by deploy/run-local.sh with each service."""

import json
from typing import Any

import pytest
from e2e.stack import Stack
from e2e.waiting import wait_until

FIRST_RUN_SECONDS = 60


def _completed_runs(logs: str, command: str) -> list[dict[str, Any]]:
    """The runner's `housekeeping run completed` lines for `command` (a binary may have a path)."""
    runs = []
    for line in logs.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(record, dict)
            and record.get("event") == "housekeeping run completed"
            and str(record.get("command", "")).endswith(command)
        ):
            runs.append(record)
    return runs


@pytest.mark.parametrize(
    ("runner", "command"),
    [
        ("identity-housekeeping", "flask --app identity tokens prune"),
        ("identity-housekeeping", "flask --app identity events prune"),
        ("identity-housekeeping", "flask --app identity audit prune"),
        ("items-housekeeping", "flask --app items idempotency prune"),
        ("items-housekeeping", "flask --app items events prune"),
    ],
)
def test_housekeeping_logs_a_completed_prune_run_when_the_stack_has_started(
    stack: Stack, runner: str, command: str
) -> None:
    runs = wait_until(
        lambda: _completed_runs(stack.service_logs(runner), command) or None,
        timeout=FIRST_RUN_SECONDS,
        interval=1,
        what=f"a completed `{command}` run in {runner}'s log",
    )

    assert runs[0]["exit_code"] == 0
