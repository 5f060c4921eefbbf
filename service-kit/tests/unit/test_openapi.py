"""The OpenAPI response objects every service documents its errors with."""

from service_kit.http.openapi import problem_responses


def test_problem_responses_document_an_optional_retry_after_when_status_is_503() -> None:
    responses = problem_responses(503)

    header = responses["503"]["headers"]["Retry-After"]
    assert header["required"] is False
    assert header["schema"]["type"] == "integer"
