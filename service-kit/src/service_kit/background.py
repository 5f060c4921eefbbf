"""Background processes (the event relay, the event consumer, the mail worker): a loop that runs
until SIGTERM or SIGINT, finishing its unit of work first, with its metrics served meanwhile."""

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from prometheus_client import CollectorRegistry

from service_kit.metrics_server import served


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set: the `stop` of a loop run in the main thread."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()  # nothing else here: a signal handler must not take the logging lock

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    return stop


def run_until_signalled(
    loop: Callable[[threading.Event], None],
    registry: CollectorRegistry,
    *,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run `loop(stop)` until SIGTERM or SIGINT sets `stop`, serving `registry` on the metrics
    port (0: any free one, said on standard error) while it runs, if one is given."""
    stop = stop_on_signals()
    if metrics_port is None:
        loop(stop)
        return
    with served(registry, port=metrics_port, host=metrics_host) as port:
        print(f"metrics on http://{metrics_host}:{port}/metrics", file=sys.stderr, flush=True)
        loop(stop)
