"""`@require_auth`, `@require_admin` and the current principal, backed by the app's verifier."""

from collections.abc import Callable
from functools import wraps
from typing import Final, ParamSpec, TypeVar, cast

from flask import current_app, g, request

from service_kit.errors import InvalidTokenError, PermissionDeniedError
from service_kit.security.jwt_verify import AccessTokenVerifier, Principal

VERIFIER_KEY: Final = "service_kit.verifier"

P = ParamSpec("P")
R = TypeVar("R")


def current_principal() -> Principal:
    """The authenticated caller; only valid inside a view wrapped by `require_auth`."""
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
    verifier = cast(AccessTokenVerifier, current_app.extensions[VERIFIER_KEY])
    principal = verifier.verify(_bearer_token())
    g.principal = principal
    return principal


def require_auth(view: Callable[P, R]) -> Callable[P, R]:
    """Reject the request with 401 `invalid_token` unless it carries a valid access token."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        authenticate_request()
        return view(*args, **kwargs)

    return wrapper


def require_admin(view: Callable[P, R]) -> Callable[P, R]:
    """Like `require_auth`, and 403 unless the caller has the admin role."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not authenticate_request().is_admin:
            raise PermissionDeniedError("This operation needs the admin role.")
        return view(*args, **kwargs)

    return wrapper
