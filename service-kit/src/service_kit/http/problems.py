"""The one place that turns errors into RFC 9457 `application/problem+json` responses."""

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from flask import Flask, Response, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from service_kit.db.session import connection_lost, database_unavailable, failure_summary
from service_kit.errors import (
    AuthenticationError,
    BusinessRuleError,
    ConflictError,
    DatabaseUnavailableError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    ReauthenticationRequiredError,
    ServiceUnavailableError,
    TooManyAttemptsError,
)
from service_kit.http.db import commit_sent
from service_kit.http.request_id import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_MIMETYPE: Final = "application/problem+json"
PROBLEM_TYPE_BASE: Final = "urn:problem-type:"

_DOMAIN_STATUS: Final[Mapping[type[DomainError], int]] = {
    NotFoundError: 404,
    ConflictError: 409,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    PreconditionFailedError: 412,
    BusinessRuleError: 422,
    TooManyAttemptsError: 429,
    ServiceUnavailableError: 503,
}

_HTTP_CODES: Final[Mapping[int, tuple[str, str]]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    411: ("length_required", "Length required"),
    412: ("precondition_failed", "Precondition failed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    428: ("precondition_required", "Precondition required"),
    429: ("too_many_requests", "Too many requests"),
    503: ("service_unavailable", "Service unavailable"),
}

_OUTCOME_UNKNOWN: Final = (
    "The database connection was lost while the change was being saved; it may or may not "
    "have been saved. Check before repeating the request."
)

_HTTP_DETAILS: Final[Mapping[int, str]] = {
    404: "No resource exists at this URL.",
    405: "This method is not allowed on this URL.",
    413: "The request body is larger than this service accepts.",
}


class MalformedJSONError(HTTPException):
    """The body claimed to be JSON but does not parse as a JSON object."""

    code = 400
    description = "The request body is not valid JSON."


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build a problem+json response for the current request."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "code": code,
        "request_id": current_request_id(),
    }
    if extra:
        body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", _www_authenticate(code))
    return response


def reauthentication_challenge(max_age_seconds: int) -> str:
    """RFC 9470's step-up challenge: the token is fine, the authentication behind it too old."""
    return (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A more recent login is required", '
        f'max_age="{max_age_seconds}"'
    )


def _www_authenticate(code: str) -> str:
    if code == "invalid_token":
        return 'Bearer error="invalid_token"'
    return "Bearer"


def validation_problem(exc: ValidationError) -> Response:
    """422 listing each field problem by location and message; the input is never echoed."""
    errors = [
        {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return problem_response(
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail="The request has invalid fields.",
        extra={"errors": errors},
    )


def handle_domain_error(exc: DomainError) -> Response:
    status = next((status for cls, status in _DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    headers = {}
    retry_after = getattr(exc, "retry_after_seconds", None)  # 503 (some), 429
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if isinstance(exc, ReauthenticationRequiredError):
        headers["WWW-Authenticate"] = reauthentication_challenge(exc.max_age_seconds)
    return problem_response(
        status=status, code=exc.code, title=exc.title, detail=exc.detail, headers=headers
    )


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if isinstance(exc, MalformedJSONError):
        code, title = "malformed_json", "Malformed JSON"
    else:
        code, title = _HTTP_CODES.get(status, ("http_error", exc.name))
    detail = _HTTP_DETAILS.get(status) or exc.description or title
    headers = {}
    original = exc.get_response()
    for name in ("Allow", "Retry-After"):
        if name in original.headers:
            headers[name] = original.headers[name]
    return problem_response(status=status, code=code, title=title, detail=detail, headers=headers)


def handle_unexpected_error(exc: Exception) -> Response:
    """Log once with the traceback; tell the client nothing internal."""
    logger.exception("unhandled error", extra={"path": request.path, "method": request.method})
    return problem_response(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="An unexpected error occurred; it has been logged.",
    )


def handle_database_error(exc: Exception) -> Response:
    """503 `database_unavailable` (with Retry-After) when the database could not be reached or
    the connection was lost (and the request was not run again, see `service_kit.http.db`);
    any other database error is a bug: 500."""
    if not database_unavailable(exc):
        return handle_unexpected_error(exc)
    outcome_unknown = connection_lost(exc) and commit_sent()
    logger.warning(
        "database unavailable",
        extra={"error": failure_summary(exc), "after_commit": outcome_unknown},
    )
    return handle_domain_error(
        DatabaseUnavailableError(_OUTCOME_UNKNOWN if outcome_unknown else None)
    )


def reject_malformed_json() -> None:
    """Parse JSON bodies up front so a broken body is one clear 400, not a confusing 422."""
    if request.is_json and request.content_length != 0:
        payload = request.get_json(silent=True)
        if payload is None and request.get_data(cache=True).strip():
            raise MalformedJSONError()


def reject_repeated_query_parameters() -> Response | None:
    """No operation takes a list in its query string, and for a repeated scalar the framework
    would silently keep the first value; refuse the ambiguity instead (422)."""
    repeated = sorted(key for key, values in request.args.lists() if len(values) > 1)
    if not repeated:
        return None
    errors = [
        {"loc": [key], "msg": "Query parameter given more than once", "type": "repeated_parameter"}
        for key in repeated
    ]
    return problem_response(
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail="The request has invalid fields.",
        extra={"errors": errors},
    )


def register_problem_handlers(app: Flask) -> None:
    """Make every error of `app` a problem+json response."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(ValidationError, validation_problem)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PoolTimeoutError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected_error)
