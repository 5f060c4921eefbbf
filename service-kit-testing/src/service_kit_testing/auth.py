"""Bearer credentials in tests, and the one answer every untrusted credential must get."""

# ruff: noqa: S101  (an assertion helper)

from werkzeug.test import TestResponse


def bearer(token: str) -> dict[str, str]:
    """The `Authorization` header that presents `token`."""
    return {"Authorization": f"Bearer {token}"}


def assert_invalid_token(response: TestResponse) -> None:
    """The 401 `invalid_token` problem with a Bearer challenge, whatever was wrong."""
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
