"""OpenAPI response objects for problem+json errors."""

from service_kit.http.openapi import problem_responses


def test_problem_responses_allow_only_the_named_codes_when_codes_are_given() -> None:
    responses = problem_responses(401, codes={401: ("invalid_token", "reauthentication_required")})

    schema = responses["401"]["content"]["application/problem+json"]["schema"]  # type: ignore[index]
    assert schema["properties"]["code"]["enum"] == ["invalid_token", "reauthentication_required"]


def test_problem_responses_name_the_codes_in_the_description_when_codes_are_given() -> None:
    responses = problem_responses(403, codes={403: ("forbidden",)})

    assert responses["403"]["description"] == "Not allowed: `forbidden`"  # type: ignore[index]


def test_problem_responses_allow_any_code_when_no_codes_are_given() -> None:
    responses = problem_responses(404)

    schema = responses["404"]["content"]["application/problem+json"]["schema"]  # type: ignore[index]
    assert schema["properties"]["code"] == {"type": "string"}


def test_problem_responses_document_an_optional_retry_after_when_status_is_503() -> None:
    responses = problem_responses(503)

    header = responses["503"]["headers"]["Retry-After"]
    assert header["required"] is False
    assert header["schema"]["type"] == "integer"
