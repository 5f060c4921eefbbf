"""The one assertion on problem+json answers: status, media type and stable `code`."""

# ruff: noqa: S101  (an assertion helper)

from werkzeug.test import TestResponse


def assert_problem(response: TestResponse, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
