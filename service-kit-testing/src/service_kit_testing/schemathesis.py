"""Schemathesis against a service's own OpenAPI document, with requests sent in-process (WSGI).

A test module loads the schema when it is imported, from an app that only serves the document,
and a fixture points `InProcessApi` at the app of the running test, so generated requests reach
that test's real, migrated database (and roll back with it):

    api = InProcessApi()
    schema = api.load_schema(create_app(make_settings()))

    @pytest.fixture
    def served(app):
        with api.serving(app):
            yield app

Why not `schemathesis.pytest.from_fixture` with the function-scoped `app`: with pytest 9.2 its
lazy loader fails before the first case (`'Function' object has no attribute '_nodeid'`).
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.schemas import BaseSchema

from service_kit.http.openapi import PROBLEM_CODES_EXTENSION
from service_kit_testing.migrations import app_database

ApiCase: TypeAlias = schemathesis.Case[Any]


class InProcessApi:
    """A WSGI app that forwards every request to the app it is serving (see `serving`)."""

    def __init__(self) -> None:
        self._target: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        assert self._target is not None, "requests are only sent while a test runs"  # noqa: S101
        return self._target(environ, start_response)

    @contextmanager
    def serving(self, app: Flask) -> Iterator[Flask]:
        """Forward requests to `app` until the block ends."""
        self._target = app
        try:
            yield app
        finally:
            self._target = None

    def load_schema(self, document_app: Flask, path: str = "/openapi.json") -> BaseSchema:
        """The OpenAPI document `document_app` serves at `path`; the app's pool closes after."""
        try:
            with self.serving(document_app):
                return schemathesis.openapi.from_wsgi(path, self)
        finally:
            app_database(document_app).dispose()


def per_operation_settings(*, max_examples: int) -> settings:
    """Settings for a `@schema.parametrize()` test: reproducible and without a deadline.

    One operation's examples share its function-scoped fixtures (the app, the database
    transaction) on purpose, so Hypothesis' health check against that is off.
    """
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


def is_positive(case: ApiCase) -> bool:
    """Whether the case was generated to satisfy the schema (the positive mode)."""
    return case.meta is not None and case.meta.generation.mode.is_positive


def problem_code_documented(ctx: Any, response: Any, case: ApiCase) -> bool | None:
    """A schemathesis check: an error's `code` is one the operation's document names for that
    status (`x-problem-codes`, which `service_kit.http.openapi.problem_responses` writes); an
    error response without the list may answer any code."""
    definition = case.operation.responses.find_by_status_code(response.status_code)
    codes = definition.definition.get(PROBLEM_CODES_EXTENSION) if definition else None
    if not codes:
        return None
    code = response.json().get("code")
    if code not in codes:
        raise AssertionError(
            f"{case.operation.label} answered {response.status_code} with code {code!r}; "
            f"its document names {codes}"
        )
    return True
