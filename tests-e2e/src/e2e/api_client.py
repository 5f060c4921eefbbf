"""The public API as the tests use it: one method per call, HTTP details kept in here.

Calls return the `requests.Response`, so a test asserts on exactly what the gateway answered;
the `*_ok` helpers are for the steps a test only needs to get through (they fail with the
problem body when the answer is not the expected success). Every test gets a fresh client,
closed after it (the suite runs with warnings as errors, and an open session is a warning).
"""

import base64
import json
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import requests

PROBLEM_JSON = "application/problem+json"
PROBLEM_KEYS = frozenset({"type", "title", "status", "detail", "instance", "code", "request_id"})


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str


@dataclass(frozen=True, slots=True)
class Account:
    """A registered user, logged in once."""

    email: str
    password: str
    user_id: str
    tokens: TokenPair


def unique_email() -> str:
    return f"e2e-{uuid.uuid4().hex}@example.com"


def token_header(token: str) -> dict[str, Any]:
    """The JOSE header of a JWT, read without verifying anything (`kid`, `alg`, `typ`)."""
    segment = token.split(".", 1)[0]
    header: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return header


def expect_problem(
    response: requests.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """Assert an RFC 9457 problem answer with this status (and code); return its body."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status, body
    if code is not None:
        assert body["code"] == code, body
    return body


def _expect(response: requests.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.url}: expected {status}, "
        f"got {response.status_code}: {response.text[:500]}"
    )
    return response.json() if response.content else None


class ApiClient:
    """Talks to the stack's gateway, and only to it."""

    def __init__(self, base_url: str, *, timeout_seconds: float = 15) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._session = requests.Session()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Any request to the gateway; `token` becomes the bearer credential."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return self._session.request(
            method, self.base_url + path, headers=all_headers, timeout=self._timeout, **kwargs
        )

    # -- identity ------------------------------------------------------------------------

    def register(self, email: str, password: str) -> requests.Response:
        return self.request(
            "POST", "/api/v1/auth/register", json={"email": email, "password": password}
        )

    def login(self, email: str, password: str, **kwargs: Any) -> requests.Response:
        return self.request(
            "POST", "/api/v1/auth/login", json={"email": email, "password": password}, **kwargs
        )

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.request("POST", "/api/v1/auth/refresh", json={"refresh_token": refresh_token})

    def logout(self, refresh_token: str) -> requests.Response:
        return self.request("POST", "/api/v1/auth/logout", json={"refresh_token": refresh_token})

    def logout_all(self, access_token: str) -> requests.Response:
        return self.request("POST", "/api/v1/auth/logout-all", token=access_token)

    def me(self, access_token: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", "/api/v1/users/me", token=access_token, **kwargs)

    def change_password(
        self, access_token: str, *, current_password: str, new_password: str
    ) -> requests.Response:
        return self.request(
            "POST",
            "/api/v1/users/me/password",
            token=access_token,
            json={"current_password": current_password, "new_password": new_password},
        )

    def update_user(self, admin_token: str, user_id: str, **fields: Any) -> requests.Response:
        """Admin: PATCH a user's `role`, `is_active` or `full_name`."""
        return self.request("PATCH", f"/api/v1/users/{user_id}", token=admin_token, json=fields)

    def delete_user(self, admin_token: str, user_id: str) -> requests.Response:
        """Admin: delete any user."""
        return self.request("DELETE", f"/api/v1/users/{user_id}", token=admin_token)

    def jwks(self) -> requests.Response:
        return self.request("GET", "/.well-known/jwks.json")

    def login_ok(self, email: str, password: str) -> TokenPair:
        body = _expect(self.login(email, password), 200)
        return TokenPair(body["access_token"], body["refresh_token"])

    def new_account(self) -> Account:
        """Register a user with a unique email and log in."""
        email, password = unique_email(), f"pw-{uuid.uuid4().hex}"
        user = _expect(self.register(email, password), 201)
        return Account(email, password, user["id"], self.login_ok(email, password))

    # -- items ---------------------------------------------------------------------------

    def create_item(self, token: str, **fields: Any) -> requests.Response:
        return self.request("POST", "/api/v1/items", token=token, json=fields)

    def get_item(self, token: str, item_id: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", f"/api/v1/items/{item_id}", token=token, **kwargs)

    def list_items(self, token: str, **params: str | int) -> requests.Response:
        return self.request("GET", "/api/v1/items", token=token, params=params)

    def update_item(
        self, token: str, item_id: str, *, if_match: str | None = None, **fields: Any
    ) -> requests.Response:
        headers = {"If-Match": if_match} if if_match is not None else None
        return self.request(
            "PATCH", f"/api/v1/items/{item_id}", token=token, headers=headers, json=fields
        )

    def delete_item(self, token: str, item_id: str) -> requests.Response:
        return self.request("DELETE", f"/api/v1/items/{item_id}", token=token)

    def restore_item(self, token: str, item_id: str) -> requests.Response:
        return self.request("POST", f"/api/v1/items/{item_id}/restore", token=token)

    def create_item_ok(self, token: str, **fields: Any) -> dict[str, Any]:
        item: dict[str, Any] = _expect(self.create_item(token, **fields), 201)
        return item
