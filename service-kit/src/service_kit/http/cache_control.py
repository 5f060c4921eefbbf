"""`Cache-Control: no-store` on what no cache may keep: every answer to an authenticated request,
and every answer whose view did not choose a policy (token responses among them)."""

from typing import Final

from flask import Response, request

NO_STORE: Final = "no-store"


def forbid_storing(response: Response) -> Response:
    # An Authorization header makes the answer the caller's alone, whatever the view said
    # (a public JWKS fetched with a token included); a view that said nothing gets no-store, so
    # a new endpoint that returns credentials cannot forget it. Views that may be cached (the
    # JWKS, static assets) set their own policy.
    if "Authorization" in request.headers or "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = NO_STORE
    return response
