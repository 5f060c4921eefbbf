"""Schemathesis against items' own OpenAPI document: every operation, every built-in check.

The document is read from the app's own `/openapi.json`; requests go in-process (WSGI) to the
`app` fixture, so they hit the real, migrated PostgreSQL database and roll back with the test.
Every example carries a valid bearer token of a new user (signed by the test `issuer`), so
generated requests reach validation and the handlers instead of stopping at 401. Every built-in
check runs (none is excluded): no 5xx, responses match their documented status, content type,
schema and headers, schema-valid requests are accepted and schema-violating ones rejected.

The schema is loaded when the module is imported, and `IN_PROCESS` forwards every request to
the app of the running test (`service_kit_testing.schemathesis` says why). Each operation is
one pytest test, so the function-scoped fixtures (and the database rollback) are per operation
and shared by its examples; every example acts as a new user, so examples do not depend on one
another.
"""

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from sqlalchemy.orm import Session

from items import create_app
from items.models import Item
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer
from service_kit_testing.schemathesis import (
    ApiCase,
    InProcessApi,
    is_positive,
    per_operation_settings,
    problem_code_documented,
)
from tests.conftest import TokenIssuer, make_settings
from tests.factories import make_deleted_item, make_item

pytestmark = pytest.mark.postgres

RESTORE_PATH_SUFFIX = "/restore"


IN_PROCESS = InProcessApi()
schema = IN_PROCESS.load_schema(create_app(make_settings()))  # the document needs no database


@pytest.fixture
def served(app: OpenAPI) -> Iterator[OpenAPI]:
    with IN_PROCESS.serving(app):
        yield app


@dataclass
class Callers:
    """Credentials and real identifiers for generated requests."""

    issuer: TokenIssuer
    client: FlaskClient
    session: Session
    clock: FakeClock
    _cursors: dict[str, str] = field(default_factory=dict, init=False)

    def token(self, user_id: uuid.UUID, *, is_admin: bool) -> str:
        return self.issuer.token(user_id=user_id, role="admin" if is_admin else "user")

    def item(self, owner_id: uuid.UUID, *, is_deleted: bool) -> Item:
        if is_deleted:
            return make_deleted_item(self.session, owner_id=owner_id, deleted_at=self.clock.now())
        return make_item(self.session, owner_id=owner_id)

    def issued_cursor(self, sort: str) -> str:
        """A cursor the service really issued for this sort order (cursors are bound to it)."""
        if sort not in self._cursors:
            owner_id = uuid.uuid4()
            make_item(self.session, owner_id=owner_id)
            make_item(self.session, owner_id=owner_id)
            response = self.client.get(
                "/api/v1/items",
                query_string={"limit": 1, "sort": sort},
                headers=bearer(self.token(owner_id, is_admin=False)),
            )
            assert response.status_code == 200, response.json
            cursor = response.json["next_cursor"]  # type: ignore[index]
            assert cursor
            self._cursors[sort] = cursor
        return self._cursors[sort]


def _coin(case: ApiCase, purpose: str) -> bool:
    """Heads for about half of the cases, decided by the case's content so that replays are
    identical. (Not by the id alone: the coverage phase sends all its bodies to one id.)"""
    headers = sorted(
        (name, value) for name, value in (case.headers or {}).items() if name != "Authorization"
    )
    content = repr((purpose, case.path_parameters, case.query, case.body, headers))
    return hashlib.sha256(content.encode()).digest()[0] % 2 == 0


def _header(case: ApiCase, name: str) -> str | None:
    """The name a generated header is stored under (case-insensitively), if present."""
    return next((key for key in case.headers or {} if key.lower() == name.lower()), None)


def _point_at_real_data(case: ApiCase, callers: Callers, user_id: uuid.UUID) -> None:
    """Schema-valid values that the schema cannot make real: the ids of the caller's items, their
    current ETags and cursors the service issued. Only positive cases are changed, and only to
    values that are just as schema-valid, so every check keeps its meaning."""
    if not is_positive(case):
        return
    query = case.query if isinstance(case.query, dict) else {}
    if "cursor" in query:
        query["cursor"] = callers.issued_cursor(str(query.get("sort", "-created_at")))
    params = case.path_parameters or {}
    if "item_id" in params and _coin(case, "real item"):
        is_restore = case.path.endswith(RESTORE_PATH_SUFFIX)
        item = callers.item(user_id, is_deleted=is_restore)
        params["item_id"] = str(item.public_id)
        # A stale If-Match is a correct 412; what the schema cannot say is "the current ETag".
        if_match = _header(case, "If-Match")
        if if_match is not None:
            case.headers[if_match] = f'"{item.version}"'  # type: ignore[index]


@pytest.fixture
def callers(
    issuer: TokenIssuer, client: FlaskClient, session: Session, clock: FakeClock
) -> Callers:
    return Callers(issuer, client, session, clock)


@schema.parametrize()
@per_operation_settings(max_examples=40)
def test_operation_conforms_to_the_openapi_document_when_called_with_a_valid_token(
    case: ApiCase, served: OpenAPI, callers: Callers
) -> None:
    user_id = uuid.uuid4()
    query = case.query if isinstance(case.query, dict) else {}
    # Admins may filter by any owner; for a user that is a (documented) 403. Both are exercised.
    is_admin = "owner" in query and _coin(case, "admin")
    _point_at_real_data(case, callers, user_id)

    case.call_and_validate(
        headers=bearer(callers.token(user_id, is_admin=is_admin)),
        additional_checks=[problem_code_documented],
    )
