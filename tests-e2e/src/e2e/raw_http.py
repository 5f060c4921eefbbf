"""HTTP/1.1 over a plain socket, for requests a client library would refuse or rewrite: any
method (CONNECT, TRACE, PROPFIND), paths with dot segments, fragments or an absolute form,
malformed request lines."""

import json
import socket
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 15


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        return json.loads(self.body)


def send(base_url: str, head: bytes, body: bytes = b"") -> RawResponse:
    """Send `head` (request line and header lines, without the blank line) and `body` as they
    are, with `Connection: close`; read the whole answer."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port or 80), timeout=TIMEOUT_SECONDS) as sock:
        sock.sendall(head.rstrip(b"\r\n") + b"\r\nConnection: close\r\n\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    status_line, _, rest = raw.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    headers = BytesHeaderParser().parsebytes(header_block + b"\r\n\r\n")
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        payload = _dechunk(payload)
    return RawResponse(int(status_line.split()[1]), headers, payload)


def _dechunk(payload: bytes) -> bytes:
    body = b""
    while payload:
        size_line, _, payload = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body, payload = body + payload[:size], payload[size + 2 :]
    return body


def request(
    base_url: str,
    method: str,
    target: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> RawResponse:
    """`METHOD target HTTP/1.1` with a Host header, these headers and a Content-Length."""
    host = urlsplit(base_url).netloc
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return send(base_url, "\r\n".join(lines).encode("latin-1"), body)
