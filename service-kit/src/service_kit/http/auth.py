"""`@require_auth`, `@require_admin` and the current principal, backed by the app's verifier.

The decorators mark the view; a `before_request` hook (`authenticate_marked_views`, which
`create_service_app` registers with the app's verifier) checks the
mark and authenticates before flask-openapi3 validates the request, so an anonymous caller
gets 401 (and a non-admin 403) whatever the shape of the body or query.
"""

from collections.abc import Callable
from typing import Final, Literal, ParamSpec, TypeVar, cast

from flask import current_app, g, request

from service_kit.errors import InvalidTokenError, PermissionDeniedError
from service_kit.http.db import rerun_on_lost_connection
from service_kit.security.jwt_verify import AccessTokenVerifier, Principal

VERIFIER_KEY: Final = "service_kit.verifier"
_MARK: Final = "__service_kit_auth__"

P = ParamSpec("P")
R = TypeVar("R")
Requirement = Literal["user", "admin"]


def current_principal() -> Principal:
    """The authenticated caller; only valid inside a view marked by `require_auth`."""
    principal = g.get("principal")
    if not isinstance(principal, Principal):
        raise InvalidTokenError()
    return principal


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError()
    return token.strip()


def authenticate_request() -> Principal:
    """Verify the request's bearer token and remember the principal on `g`."""
    verifier = cast(AccessTokenVerifier | None, current_app.extensions.get(VERIFIER_KEY))
    if verifier is None:
        raise RuntimeError("this app verifies no tokens: give create_service_app a verifier")
    principal = verifier.verify(_bearer_token())
    g.principal = principal
    return principal


def _mark(view: Callable[P, R], requirement: Requirement) -> Callable[P, R]:
    setattr(view, _MARK, requirement)  # flask-openapi3's wrapper copies it (functools.wraps)
    return view


def require_auth(view: Callable[P, R]) -> Callable[P, R]:
    """401 `invalid_token` unless the request carries a valid access token."""
    return _mark(view, "user")


def require_admin(view: Callable[P, R]) -> Callable[P, R]:
    """Like `require_auth`, and 403 unless the token's role is admin."""
    return _mark(view, "admin")


def authenticate_marked_views() -> None:
    """Before each request, ahead of body parsing and validation: 401/403 for a marked view."""
    view = current_app.view_functions.get(request.endpoint or "")
    requirement = getattr(view, _MARK, None)
    if requirement is None:
        return
    # A key source may read the database (identity's key cache does).
    principal = rerun_on_lost_connection(authenticate_request)
    if requirement == "admin" and not principal.is_admin:
        raise PermissionDeniedError("This operation needs the admin role.")
