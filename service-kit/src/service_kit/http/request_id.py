"""Request ids: keep a safe incoming `X-Request-ID`, else make one; echo it and log with it.
The request's origin (`service_kit.origin`) is bound with it."""

import re
import uuid

import structlog
from flask import Response, g, request

from service_kit import tracing
from service_kit.origin import RequestOrigin, bind_origin, client_address, clip_user_agent

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    request_id = g.get("request_id")
    return request_id if isinstance(request_id, str) else None


def bind_request_id() -> None:
    """Before each request, first: every later log line carries the id."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_id = request_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    tracing.note_request(request_id, request.environ)
    # remote_addr is the client's address as the trusted proxy forwarded it (ProxyFix).
    bind_origin(
        RequestOrigin(
            ip=client_address(request.remote_addr),
            user_agent=clip_user_agent(request.headers.get("User-Agent")),
            request_id=request_id,
        )
    )


def echo_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def unbind_request_id(_exc: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()
    bind_origin(None)
