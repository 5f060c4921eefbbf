"""Run housekeeping commands at start and then every N seconds, until SIGTERM or SIGINT.

    python -m service_kit.housekeeping [--every SECONDS] -- flask --app items idempotency prune
    python -m service_kit.housekeeping -- flask --app items idempotency prune ';' \
        flask --app items events prune

What docker compose runs next to each service (Kubernetes schedules the same commands as
CronJobs instead). Several commands are separated by a `;` argument and run one after the other
in each run. `--every` defaults to `HOUSEKEEPING_INTERVAL_SECONDS`, else 3600; the next run
starts that long after the previous one started (at once if a run took longer). Each command is
a fresh process, so no connection or state is held between runs.

One log line per command and run on stdout (JSON unless `HOUSEKEEPING_LOG_JSON=false`):
`housekeeping run completed` (exit code 0) or `housekeeping run failed` (any other), with the
command, its exit code and its duration. A failed command neither stops the others nor the
schedule. SIGTERM or SIGINT stops the schedule: between runs at once, during a run by passing
the signal on to the command in progress and waiting for it (the commands after it do not
start); the exit status is then 0. A command that cannot be started at all exits with 127.
"""

import argparse
import logging
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Final

from service_kit.logging import configure_logging

INTERVAL_VARIABLE: Final = "HOUSEKEEPING_INTERVAL_SECONDS"
LOG_JSON_VARIABLE: Final = "HOUSEKEEPING_LOG_JSON"
DEFAULT_INTERVAL_SECONDS: Final = 3600.0
COMMAND_NOT_STARTED: Final = 127
COMMAND_SEPARATOR: Final = ";"
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)

logger = logging.getLogger("service_kit.housekeeping")  # also when run as __main__


class Housekeeper:
    """Runs commands, one after the other, on a fixed schedule in the main thread."""

    def __init__(self, commands: Sequence[Sequence[str]], *, interval_seconds: float) -> None:
        self._commands = [list(command) for command in commands]
        self._described = " ; ".join(shlex.join(command) for command in self._commands)
        self._interval = interval_seconds
        self._stopping = False
        self._child: subprocess.Popen[bytes] | None = None
        # A signal writes a byte here (signal.set_wakeup_fd), which ends the wait between runs
        # even when it arrives just before the wait begins.
        self._wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self._wakeup_write, False)

    def install_signal_handlers(self) -> None:
        signal.set_wakeup_fd(self._wakeup_write)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_stop_signal)

    def run(self) -> int:
        """Run until stopped; the process exit status."""
        logger.info(
            "housekeeping started",
            extra={"command": self._described, "interval_seconds": self._interval},
        )
        while not self._stopping:
            started = time.monotonic()
            for command in self._commands:
                if self._stopping:
                    break
                command_started = time.monotonic()
                try:
                    exit_code = self._run_once(command)
                except OSError as error:
                    logger.error(
                        "housekeeping command cannot be started",
                        extra={"command": shlex.join(command), "error": str(error)},
                    )
                    return COMMAND_NOT_STARTED
                self._log_run(command, exit_code, time.monotonic() - command_started)
            if not self._stopping:
                self._wait(self._interval - (time.monotonic() - started))
        logger.info("housekeeping stopped", extra={"command": self._described})
        return 0

    def _run_once(self, command: list[str]) -> int:
        self._child = subprocess.Popen(command)  # noqa: S603 - the operator's own command
        try:
            if self._stopping:  # the signal came while the command was being started
                self._child.terminate()
            return self._child.wait()
        finally:
            self._child = None

    def _log_run(self, command: list[str], exit_code: int, seconds: float) -> None:
        fields = {
            "command": shlex.join(command),
            "exit_code": exit_code,
            "duration_seconds": round(seconds, 3),
        }
        if exit_code == 0:
            logger.info("housekeeping run completed", extra=fields)
        elif self._stopping:
            logger.warning("housekeeping run interrupted", extra=fields)
        else:
            logger.error("housekeeping run failed", extra=fields)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            select.select([self._wakeup_read], [], [], seconds)

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signum)


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {value!r}")
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service_kit.housekeeping",
        description="Run COMMAND at start and then every SECONDS, until SIGTERM or SIGINT.",
    )
    parser.add_argument(
        "--every",
        metavar="SECONDS",
        type=_positive_seconds,
        default=None,
        help=f"interval between runs (default: ${INTERVAL_VARIABLE}, else 3600)",
    )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...] [';' COMMAND [ARG ...]]"
    )
    return parser


def split_commands(words: Sequence[str]) -> list[list[str]]:
    """`a b ; c d` -> [[a, b], [c, d]]; empty commands (`; ;`) are dropped."""
    commands: list[list[str]] = [[]]
    for word in words:
        if word == COMMAND_SEPARATOR:
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    words: list[str] = args.command[1:] if args.command[:1] == ["--"] else args.command
    commands = split_commands(words)
    if not commands:
        parser.error("no command given (put it after --)")
    interval: float | None = args.every
    if interval is None:
        configured = os.environ.get(INTERVAL_VARIABLE, "").strip()
        try:
            interval = _positive_seconds(configured) if configured else DEFAULT_INTERVAL_SECONDS
        except argparse.ArgumentTypeError as error:
            parser.error(f"{INTERVAL_VARIABLE}: {error}")
    json_lines = os.environ.get(LOG_JSON_VARIABLE, "true").strip().lower() not in {"false", "0"}
    configure_logging(json=json_lines)
    housekeeper = Housekeeper(commands, interval_seconds=interval)
    housekeeper.install_signal_handlers()
    return housekeeper.run()


if __name__ == "__main__":
    sys.exit(main())
