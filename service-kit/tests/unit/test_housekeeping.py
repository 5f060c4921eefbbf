"""`python -m service_kit.housekeeping`: a real runner process with real commands and signals."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service_kit.housekeeping import COMMAND_NOT_STARTED, INTERVAL_VARIABLE, LOG_JSON_VARIABLE

DEADLINE_SECONDS = 20
SHORT_INTERVAL = "0.3"
LONG_INTERVAL = "3600"


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {DEADLINE_SECONDS} s")
        time.sleep(0.05)


@dataclass
class Runner:
    """One housekeeping process; its stdout and stderr go to a file."""

    process: subprocess.Popen[bytes]
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines (the command's own output is plain text here)."""
        found = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    def runs(self, event: str) -> list[dict[str, Any]]:
        return [entry for entry in self.events() if entry["event"] == event]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=DEADLINE_SECONDS)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Runner]]:
    runners: list[Runner] = []

    def starter(*args: str, env: dict[str, str] | None = None) -> Runner:
        output = tmp_path / f"housekeeping-{len(runners)}.log"
        environment = {
            name: value
            for name, value in os.environ.items()
            if name not in {INTERVAL_VARIABLE, LOG_JSON_VARIABLE}
        }
        environment.update(env or {})
        with output.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - the module under test, our own arguments
                [sys.executable, "-m", "service_kit.housekeeping", *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        runner = Runner(process, output)
        runners.append(runner)
        return runner

    yield starter
    for runner in runners:
        if runner.process.poll() is None:
            runner.process.kill()
            runner.process.wait(timeout=DEADLINE_SECONDS)


def python(code: str) -> list[str]:
    return ["--", sys.executable, "-c", code]


def counting(path: Path) -> list[str]:
    """A command that appends one line to `path` per run."""
    return python(f"open({str(path)!r}, 'a').write('ran\\n')")


def count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_housekeeping_runs_the_command_at_start_when_the_interval_is_long(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    marker = tmp_path / "runs"

    runner = start("--every", LONG_INTERVAL, *counting(marker))

    _wait_for(lambda: len(runner.runs("housekeeping run completed")) == 1, "the first run")
    assert count(marker) == 1


def test_housekeeping_runs_the_command_again_when_the_interval_has_passed(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    marker = tmp_path / "runs"

    start("--every", SHORT_INTERVAL, *counting(marker))

    _wait_for(lambda: count(marker) >= 3, "three runs")


def test_housekeeping_logs_one_line_after_each_run_when_the_command_succeeds(
    start: Callable[..., Runner],
) -> None:
    runner = start("--every", SHORT_INTERVAL, *python("print('ran')"))

    _wait_for(lambda: len(runner.runs("housekeeping run completed")) >= 2, "two runs")

    sequence = []
    for line in runner.text().splitlines():
        if line == "ran":
            sequence.append("command output")
        elif line.startswith("{") and json.loads(line)["event"].startswith("housekeeping run"):
            sequence.append("run line")
    assert sequence[:4] == ["command output", "run line"] * 2


def test_housekeeping_logs_the_command_exit_code_and_duration_when_a_run_completes(
    start: Callable[..., Runner],
) -> None:
    command = python("print('ran')")

    runner = start("--every", LONG_INTERVAL, *command)

    _wait_for(lambda: len(runner.runs("housekeeping run completed")) == 1, "the first run")
    (completed,) = runner.runs("housekeeping run completed")
    assert completed["command"] == shlex.join(command[1:])
    assert completed["exit_code"] == 0
    assert completed["level"] == "info"
    assert completed["duration_seconds"] >= 0


def test_housekeeping_keeps_its_schedule_and_logs_failed_runs_when_the_command_fails(
    start: Callable[..., Runner],
) -> None:
    runner = start("--every", SHORT_INTERVAL, *python("raise SystemExit(3)"))

    _wait_for(lambda: len(runner.runs("housekeeping run failed")) >= 2, "two failed runs")

    failed = runner.runs("housekeeping run failed")
    assert {(entry["exit_code"], entry["level"]) for entry in failed} == {(3, "error")}
    assert runner.process.poll() is None


def test_housekeeping_exits_0_when_sigterm_arrives_between_runs(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    marker = tmp_path / "runs"
    runner = start("--every", LONG_INTERVAL, *counting(marker))
    _wait_for(lambda: len(runner.runs("housekeeping run completed")) == 1, "the first run")

    exit_status = runner.stop()

    assert exit_status == 0
    assert len(runner.runs("housekeeping stopped")) == 1


def test_housekeeping_stops_the_command_and_exits_0_when_sigterm_arrives_during_a_run(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    started = tmp_path / "pid"
    runner = start(
        "--every",
        LONG_INTERVAL,
        *python(
            f"import os, time; open({str(started)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
        ),
    )
    _wait_for(lambda: started.exists() and started.read_text() != "", "the command to start")

    exit_status = runner.stop()

    assert exit_status == 0
    with pytest.raises(ProcessLookupError):
        os.kill(int(started.read_text()), 0)
    interrupted = runner.runs("housekeeping run interrupted")
    assert [entry["exit_code"] for entry in interrupted] == [-signal.SIGTERM]


def test_housekeeping_takes_the_interval_from_the_environment_when_every_is_not_given(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    marker = tmp_path / "runs"

    start(*counting(marker), env={INTERVAL_VARIABLE: SHORT_INTERVAL})

    _wait_for(lambda: count(marker) >= 2, "two runs")


def test_housekeeping_logs_plain_lines_when_json_logging_is_off(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    marker = tmp_path / "runs"
    runner = start("--every", LONG_INTERVAL, *counting(marker), env={LOG_JSON_VARIABLE: "false"})
    _wait_for(lambda: "housekeeping run completed" in runner.text(), "a completed run")

    runner.stop()

    assert runner.events() == []
    completed = [line for line in runner.text().splitlines() if "run completed" in line]
    assert len(completed) == 1
    assert "exit_code=0" in completed[0]


def test_housekeeping_exits_127_when_the_command_cannot_be_started(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    runner = start("--every", LONG_INTERVAL, "--", str(tmp_path / "no-such-command"))

    exit_status = runner.process.wait(timeout=DEADLINE_SECONDS)

    assert exit_status == COMMAND_NOT_STARTED
    assert len(runner.runs("housekeeping command cannot be started")) == 1


@pytest.mark.parametrize(
    ("args", "env"),
    [
        pytest.param(["--every", "0"], {}, id="every-zero"),
        pytest.param(["--every", "-5"], {}, id="every-negative"),
        pytest.param(["--every", "soon"], {}, id="every-not-a-number"),
        pytest.param([], {INTERVAL_VARIABLE: "0"}, id="environment-zero"),
        pytest.param([], {INTERVAL_VARIABLE: "hourly"}, id="environment-not-a-number"),
    ],
)
def test_housekeeping_refuses_to_start_when_the_interval_is_not_a_positive_number(
    start: Callable[..., Runner], tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    marker = tmp_path / "runs"
    runner = start(*args, *counting(marker), env=env)

    exit_status = runner.process.wait(timeout=DEADLINE_SECONDS)

    assert exit_status == 2
    assert count(marker) == 0


def test_housekeeping_refuses_to_start_when_no_command_is_given(
    start: Callable[..., Runner],
) -> None:
    runner = start("--every", LONG_INTERVAL, "--")

    exit_status = runner.process.wait(timeout=DEADLINE_SECONDS)

    assert exit_status == 2
    assert "no command given" in runner.text()


def test_housekeeping_runs_every_command_in_order_when_several_are_separated_by_semicolons(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    command = python(f"open({str(first)!r}, 'a').write('ran\\n')")
    other = python(f"open({str(second)!r}, 'a').write('ran\\n')")[1:]

    runner = start("--every", LONG_INTERVAL, *command, ";", *other)

    _wait_for(lambda: len(runner.runs("housekeeping run completed")) == 2, "both commands")
    assert (count(first), count(second)) == (1, 1)
    assert [run["command"] for run in runner.runs("housekeeping run completed")] == [
        shlex.join(command[1:]),
        shlex.join(other),
    ]


def test_housekeeping_runs_the_next_command_when_one_of_several_fails(
    start: Callable[..., Runner], tmp_path: Path
) -> None:
    marker = tmp_path / "runs"

    runner = start(
        "--every", LONG_INTERVAL, *python("raise SystemExit(3)"), ";", *counting(marker)[1:]
    )

    _wait_for(lambda: len(runner.runs("housekeeping run completed")) == 1, "the second command")
    assert [run["exit_code"] for run in runner.runs("housekeeping run failed")] == [3]
    assert count(marker) == 1
