"""`/metrics` of a background process (the relay, the consumer, the mail worker): a registry of
its own, served over HTTP from a daemon thread while the process runs."""

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, start_http_server


@contextmanager
def served(registry: CollectorRegistry, *, port: int, host: str = "127.0.0.1") -> Iterator[int]:
    """Serve `registry` on host:port (0: any free port, yielded) while the block runs."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
