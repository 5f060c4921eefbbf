"""A TCP proxy a test can cut: what a broker or database outage looks like to a client.

with TcpProxy("127.0.0.1", 5672) as proxy:   # clients connect to proxy.port
    proxy.cut()       # every open connection is closed, new ones are refused
    proxy.restore()   # connections are accepted and forwarded again
    proxy.stall()     # connections stay open but nothing is forwarded (packets dropped)
"""

import contextlib
import selectors
import socket
import threading
import time
from types import TracebackType
from typing import Self


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `host`:`target_port`, one thread per connection pair."""

    def __init__(self, host: str, target_port: int) -> None:
        self._target = (host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._accepting = threading.Event()
        self._accepting.set()
        self._stalled = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="tcp-proxy", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        self._thread.join(timeout=5)

    def cut(self) -> None:
        """Close every forwarded connection and refuse new ones until `restore`."""
        self._accepting.clear()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def stall(self) -> None:
        """Keep every connection open but forward nothing until `restore`: a peer that stops
        answering without closing (a hung broker, a network that drops packets)."""
        self._stalled.set()

    def restore(self) -> None:
        self._stalled.clear()
        self._accepting.set()

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            if not self._accepting.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                if self._stalled.is_set():
                    if self._closed or client.fileno() < 0:  # cut while stalled
                        return
                    time.sleep(0.05)
                    continue
                for key, _events in selector.select(timeout=1):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            with self._lock:
                for sock in (client, upstream):
                    self._open.discard(sock)
                    sock.close()
