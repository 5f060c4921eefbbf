"""Schemathesis against identity's own OpenAPI document: every operation, every built-in check.

The document is the app's own `/openapi.json`; requests go in-process (WSGI) to the `app`
fixture, so they reach the real, migrated PostgreSQL database. Every check is on
(`validate_response` with nothing excluded): a case fails on a 5xx, an undocumented status,
content type or header, a body that breaks its schema, schema-valid data that is rejected,
schema-invalid data that is accepted, a 405 without `Allow`, auth that is not enforced, and
(stateful test) a resource that is missing after its creation or still there after its deletion.
(`max_response_time` is the one check that is off unless given a limit: timing is not asserted
on shared CI machines.)

- `test_each_operation_conforms`: one test per operation; the examples, coverage and fuzzing
  phases, positive and negative data.
- `test_workflows_conform`: the stateful phase, chaining operations along the links Schemathesis
  infers from the document (register, then read, change and delete that user; list sessions,
  then delete one), which is where `use_after_free` and `ensure_resource_availability` act.

Authenticated operations carry a real bearer token: an admin's for admin-only operations, a
plain user's for the others, so generated requests get past 401/403 into validation and the
handlers. Each example (and each stateful scenario) runs in its own savepoint that is rolled
back afterwards, so examples cannot affect one another and a replay sees the same database,
which Hypothesis needs to shrink a failure.

The schema is loaded when this module is imported, and `IN_PROCESS` forwards every request to
the app of the running test (`service_kit_testing.schemathesis` says why).
"""

import uuid
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
import pyotp
import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from hypothesis import settings
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from identity import create_app
from identity.models import AccountTokenPurpose, Role
from identity.repositories.account_token_repository import AccountTokenRepository
from identity.security.tokens import hash_account_token, new_account_token
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer
from service_kit_testing.schemathesis import (
    ApiCase,
    InProcessApi,
    is_positive,
    per_operation_settings,
    problem_code_documented,
)
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.integration.conftest import AuthActions

pytestmark = pytest.mark.postgres

MAX_EXAMPLES = 40
"""Fuzzed examples per operation (coverage-phase cases come on top), and stateful scenarios."""
STATEFUL_STEPS = 8


IN_PROCESS = InProcessApi()
schema = IN_PROCESS.load_schema(create_app(make_settings()))  # the document needs no database


@pytest.fixture
def served(app: OpenAPI) -> Iterator[OpenAPI]:
    with IN_PROCESS.serving(app):
        yield app


@dataclass(frozen=True)
class Caller:
    token: str
    session_id: uuid.UUID
    password: str = DEFAULT_PASSWORD

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class World:
    """Callers, real ids and issued cursors (one per listing) for generated requests."""

    auth: AuthActions
    client: FlaskClient
    session: Session
    connection: Connection
    clock: FakeClock
    user: Caller = field(init=False)
    admin: Caller = field(init=False)
    cursors: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        # Made before any example's savepoint, so they outlive every rollback below.
        self.user = self._caller(Role.USER)
        self.admin = self._caller(Role.ADMIN)
        make_user(self.session)  # with three users, a page of one has a next page
        # (and the two logins above were audited, so has a page of one audit event)
        self.cursors = {}
        for listing in ("/api/v1/users", "/api/v1/audit-events"):
            response = self.client.get(
                listing, query_string={"limit": 1}, headers=self.admin.headers
            )
            assert response.status_code == 200, response.json
            self.cursors[listing] = response.json["next_cursor"]  # type: ignore[index]
            assert self.cursors[listing], listing

    def _caller(self, role: Role) -> Caller:
        tokens = self.auth.login(make_user(self.session, role=role).email)
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        return Caller(tokens["access_token"], uuid.UUID(claims["sid"]))

    @contextmanager
    def example(self) -> Iterator[None]:
        """Whatever happens inside is undone: deleted callers come back, new rows go away."""
        savepoint = self.connection.begin_nested()
        try:
            yield
        finally:
            savepoint.rollback()

    def user_id(self) -> str:
        return str(make_user(self.session).public_id)

    def account_token(self, purpose: AccountTokenPurpose) -> str:
        """A live verification or reset token of a new user (only its hash is stored)."""
        user = make_user(self.session)
        raw = new_account_token()
        AccountTokenRepository(self.session).issue(
            user.id,
            user.email,
            purpose,
            token_hash=hash_account_token(raw),
            now=self.clock.now(),
            ttl=timedelta(hours=1),
        )
        return raw

    def refresh_token(self) -> str:
        token: str = self.auth.login(make_user(self.session).email)["refresh_token"]
        return token


@pytest.fixture
def world(
    auth: AuthActions,
    client: FlaskClient,
    session: Session,
    connection: Connection,
    clock: FakeClock,
) -> World:
    return World(auth, client, session, connection, clock)


def _caller_for(case: ApiCase, world: World) -> Caller | None:
    if not case.operation.definition.raw.get("security"):
        return None
    own_account = case.path.startswith("/api/v1/users/me") or case.path.startswith("/api/v1/auth")
    return world.user if own_account else world.admin


def _take(value: object) -> bool:
    """Whether to replace this generated value: half of them, decided by the value itself."""
    return zlib.crc32(repr(value).encode()) % 2 == 0


def _send_as_reported(case: ApiCase) -> None:
    """Schemathesis' WSGI transport sends a dict-valued query parameter (a negative case for a
    string) as its Python repr, `q={'': 'null'}`, a valid string; the request it reports and
    judges is the one `requests` sends, the dict's keys (`q=`). Send that one, so the checks
    judge the request the app really got (the case stays as generated, negative)."""
    for name, value in (case.query or {}).items():
        if isinstance(value, dict):
            case.query[name] = list(value)


def _use_issued_cursor(case: ApiCase, world: World) -> None:
    """A cursor is valid only if the service issued it, which no schema can say (422 else)."""
    if is_positive(case) and "cursor" in (case.query or {}):
        case.query["cursor"] = world.cursors[case.path]


_TOKEN_PURPOSES = {
    "/api/v1/auth/verify-email": AccountTokenPurpose.VERIFY_EMAIL,
    "/api/v1/auth/password-reset/confirm": AccountTokenPurpose.RESET_PASSWORD,
}


def _use_mailed_token(case: ApiCase, world: World) -> None:
    """A mailed token works only if the service made it, which no schema can say (400 else)."""
    purpose = _TOKEN_PURPOSES.get(case.path)
    if purpose is not None and is_positive(case) and isinstance(case.body, dict):
        case.body["token"] = world.account_token(purpose)


def _use_app_code(case: ApiCase, world: World, caller: Caller | None) -> None:
    """A TOTP code confirms an enrolment only if it comes from the pending secret, which no
    schema can say (400 else): start one and compute the code as an authenticator app does."""
    if case.path != "/api/v1/users/me/mfa/totp/confirm" or caller is None:
        return
    if not is_positive(case) or not isinstance(case.body, dict):
        return
    started = world.client.post("/api/v1/users/me/mfa/totp", headers=caller.headers)
    assert started.status_code == 201, started.json
    totp = pyotp.TOTP(started.json["secret"])  # type: ignore[index]
    case.body["code"] = totp.generate_otp(totp.timecode(world.clock.now()))


def _make_real(case: ApiCase, world: World, caller: Caller | None) -> None:
    """Where a random schema-valid value would almost never exist, use a real one in half of the
    positive cases: only there, and only values that are just as schema-valid, so every check
    keeps its meaning (and the other half still tests unknown ids and wrong credentials)."""
    _use_issued_cursor(case, world)
    _use_mailed_token(case, world)
    _use_app_code(case, world, caller)
    if not is_positive(case):
        return
    path = case.path_parameters or {}
    body = case.body if isinstance(case.body, dict) else {}
    if "user_id" in path and _take(path["user_id"]):
        path["user_id"] = world.user_id()
    if caller is not None and "session_id" in path and _take(path["session_id"]):
        path["session_id"] = str(caller.session_id)
    if case.path == "/api/v1/auth/login" and "email" in body and _take(body["email"]):
        body["email"], body["password"] = make_user(world.session).email, DEFAULT_PASSWORD
    if "refresh_token" in body and _take(body["refresh_token"]):
        body["refresh_token"] = world.refresh_token()
    if caller is not None and "current_password" in body and _take(body["current_password"]):
        body["current_password"] = caller.password


@schema.parametrize()
@per_operation_settings(max_examples=MAX_EXAMPLES)  # `world.example()` isolates the examples
def test_each_operation_conforms(case: ApiCase, served: OpenAPI, world: World) -> None:
    with world.example():
        caller = _caller_for(case, world)
        _send_as_reported(case)
        _make_real(case, world, caller)
        case.call_and_validate(
            headers=caller.headers if caller else None,
            additional_checks=[problem_code_documented],
        )


def test_workflows_conform(served: OpenAPI, world: World) -> None:
    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.scenario = ExitStack()
            self.scenario.enter_context(world.example())

        def teardown(self) -> None:
            self.scenario.close()

        def before_call(self, case: ApiCase) -> None:
            _send_as_reported(case)
            # Ids come from earlier responses (links); only a cursor and a mailed token have no
            # link to come from.
            _use_issued_cursor(case, world)
            _use_mailed_token(case, world)
            _use_app_code(case, world, _caller_for(case, world))

        def get_call_kwargs(self, case: ApiCase) -> dict[str, Any]:
            caller = _caller_for(case, world)
            return {"headers": caller.headers} if caller else {}

        def validate_response(
            self,
            response: Any,
            case: ApiCase,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            # As `call_and_validate(headers=...)` does: tells `ignored_auth` that the token is
            # ours and valid, so it probes without one and with a bad one.
            case.validate_response(
                response,
                additional_checks=[*(additional_checks or []), problem_code_documented],
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Workflow.run(
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
        )
    )
