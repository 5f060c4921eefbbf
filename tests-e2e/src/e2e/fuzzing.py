"""Schemathesis against a service's OpenAPI document, through the gateway, as real users.

`fuzz(stack, service)` loads the document the gateway serves at `/docs/<service>/openapi.json`
and runs Schemathesis' engine (what `st run` runs) on the API under the gateway's base URL:
every phase (examples, coverage, fuzzing, and the stateful phase, which chains operations along
the links Schemathesis infers from the document), every built-in check, positive and negative
data, a fixed seed and derandomized generation, bounded examples. It returns a `FuzzReport`.

Generated requests carry real credentials and, where a schema cannot say what is real, real
values (`RealValues`, applied before each call to positive cases only, with values exactly as
schema-valid as the generated ones, so every check keeps its meaning):

- Bearer tokens of real accounts (`Accounts`): a plain user for the caller's own account and
  for items, an admin (made with the identity CLI) for the admin operations, so those reach
  validation and the handlers instead of stopping at 403. A generated request may delete,
  deactivate or demote an account, change its password or revoke its sessions; an answer that
  says so (401, or 403 on an admin operation) marks the account for a check, and the next
  request that needs it gets a working one (refreshed, logged in again, or a new account).
- Cursors: only a cursor the listing issued is valid (any other, even of the documented form,
  is 422 `invalid_cursor`, which no schema can express), so a positive case's cursor becomes
  one the service issued for that listing (and sort order), unless it already is one.
- Ids come from Schemathesis itself: the stateful phase follows links from responses, and the
  other phases draw ids captured from earlier responses.
- What only an account's owner knows, in half of the positive cases (the other half keeps the
  generated value, which tests the failure path): the user's email and password for a login,
  a refresh token it was just issued for a refresh or logout, its password as
  `current_password` (and the new one from then on), its own session id to delete, an item's
  current ETag as `If-Match`.

Four answers to schema-valid requests are correct although `positive_data_acceptance` expects
otherwise; `Tolerance` drops exactly those failures, each only after checking that its reason
holds, and counts them by reason in the report (no check is turned off):

- 422 `idempotency_key_reused`: the request reused an `Idempotency-Key` that this user had
  already sent with another body; the IETF idempotency-key draft answers that with 422.
- 412 `precondition_failed`: an `If-Match` naming no strong current ETag of the item
  (RFC 9110 section 13.1.1: the condition is false), checked by reading the item afterwards.
- 400 `invalid_token` from `verify-email` or `password-reset/confirm`: the token was generated;
  only one the service mailed is valid (identity's own schemathesis run, in process, gives
  those operations real tokens).
- 400 `invalid_code` from `users/me/mfa/totp/confirm`: the code was generated, not computed from
  the pending secret (the run never computes one: a confirmed enrolment would turn two-factor
  login on for an account the harness logs in with; identity's own run computes real codes).

Two stateful checks assume what this API does not: that nothing brings a deleted resource back
(`use_after_free`; but `POST /restore` does), and that the resource a 201 names exists
(`ensure_resource_availability`; but a repeated `Idempotency-Key` answers the first 201 again,
even for an item deleted since). Those failures are dropped only when the run saw the item
restored after its deletion, or the 201 replayed after it.

The stateful phase also sends requests with made-up extra headers; one named
`Transfer-Encoding` gets the gateway's 501 `not_implemented` (RFC 9112 section 6.1 says so for a
transfer coding the server does not understand, the gateway's own tests pin it, and it is the
message framing, not the operation, that is refused). `not_a_server_error` and
`status_code_conformance` failures are dropped for exactly that answer to exactly such a request.

Rate limits: the gateway limits login, register, refresh, password change and the four account
mail operations per client address
(the e2e stack: 30 a second with a burst of 60, then 429 with `Retry-After`), and unpaced
fuzzing goes over that. The run gets no budget of its own: that would take a second client
address, which compose mode cannot give (its gateway port is published through Docker's proxy,
so every client has the proxy's address), or a stack setting that would lift the limit the
gateway tests flood too. It keeps within the budget as a well-behaved client does: its
requests to those operations, generated or its own, are paced to
`CREDENTIAL_PACE_PER_SECOND`. 429 stays a declared answer: should the run meet one anyway, it
is validated like any other, `rate-limit = "auto"` has Schemathesis wait `Retry-After` and send
again (the harness's own requests do the same), and the one check that cannot take it
(`missing_required_header` wants exactly 401 when Authorization is missing, but the budget is
counted before the service looks at credentials) drops that failure after checking it was the
gateway's 429. The gateway's 429 on each of those operations is tested on its own. Login
is the exception to the waiting, with the password change and the operations that take a TOTP
code: identity's per-email and per-account throttles answer them 429 too, with a `Retry-After`
of up to an hour, so their 429 is validated and not waited out.
"""

import base64
import hashlib
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeAlias

import requests
import schemathesis
from schemathesis.core.failures import ServerError
from schemathesis.engine import Status, events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER, HookContext
from schemathesis.openapi.checks import (
    EnsureResourceAvailability,
    MissingHeaderNotRejected,
    RejectedPositiveData,
    UndefinedStatusCode,
    UseAfterFree,
)
from schemathesis.schemas import BaseSchema

from e2e.api_client import PROBLEM_JSON, unique_email
from e2e.stack import CREDENTIAL_PACE_PER_SECOND, Stack
from e2e.waiting import Pace

SEED: Final = 20250917
MAX_EXAMPLES: Final = 150
"""Examples per operation in the fuzzing phase, and scenarios in the stateful phase (the
examples and coverage phases add their own, deterministic cases)."""
STATEFUL_MAX_STEPS: Final = 8
REQUEST_TIMEOUT_SECONDS: Final = 15
SEND_ATTEMPTS: Final = 10
"""How often the harness sends a request of its own when the gateway answers 429 or 503."""
RENEW_BEFORE_EXPIRY_SECONDS: Final = 60
RATE_LIMITED_PATHS: Final = frozenset(
    {
        "/api/v1/auth/login",
        "/api/v1/auth/register",
        "/api/v1/auth/refresh",
        "/api/v1/users/me/password",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/verify-email/resend",
        "/api/v1/auth/password-reset",
        "/api/v1/auth/password-reset/confirm",
        "/api/v1/auth/mfa/verify",
    }
)
"""What the gateway's per-address credential budget counts (any method)."""
ACCOUNT_THROTTLED: Final = (
    "/api/v1/auth/login",
    "/api/v1/auth/mfa/verify",
    "/api/v1/users/me/mfa/totp/confirm",
    "/api/v1/users/me/mfa/totp/disable",
    "/api/v1/users/me/password",
)
"""What identity also throttles per account (email or user), with long `Retry-After`s: a wrong
current password at a password change counts as a failed login of the account's email."""
MAILED_TOKEN_PATHS: Final = frozenset(
    {"/api/v1/auth/verify-email", "/api/v1/auth/password-reset/confirm"}
)
"""Operations that take a token from a mail: only a token the service mailed is valid."""

# Schemathesis filters these out of what it reports (curl samples): credentials, not the
# Idempotency-Key (its default markers include "key"), which a failure report must show.
SENSITIVE_MARKERS: Final = [
    "token", "secret", "password", "passwd", "auth", "session", "credential",
]  # fmt: skip


ApiCase: TypeAlias = schemathesis.Case[Any]


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


def _header(headers: Mapping[str, Any] | None, name: str) -> Any | None:
    """A header's value, whatever the spelling of its name."""
    return next(
        (value for key, value in (headers or {}).items() if key.lower() == name.lower()), None
    )


def _response_header(response: schemathesis.Response, name: str) -> str | None:
    values = _header(response.headers, name)
    if isinstance(values, list):
        return str(values[0]) if values else None
    return values


def _json(response: schemathesis.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _problem_code(response: schemathesis.Response) -> str | None:
    content_type = _response_header(response, "Content-Type") or ""
    body = _json(response) if content_type.startswith(PROBLEM_JSON) else None
    return body.get("code") if isinstance(body, dict) else None


def _bearer(case: ApiCase) -> str | None:
    value = _header(case.headers, "Authorization")
    if isinstance(value, str) and value.startswith("Bearer "):
        return value.removeprefix("Bearer ")
    return None


def _is_positive(case: ApiCase) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def _label(case: ApiCase) -> str:
    return f"{case.method.upper()} {case.path}"


def _coin(case: ApiCase, purpose: str) -> bool:
    """Heads for about half of the cases, decided by the case's content (not its credentials),
    so a replayed case decides the same."""
    headers = sorted(
        (name, value) for name, value in (case.headers or {}).items() if name != "Authorization"
    )
    content = repr((purpose, case.path_parameters, case.query, case.body, headers))
    return hashlib.sha256(content.encode()).digest()[0] % 2 == 0


def _session_id(access_token: str) -> str:
    """The `sid` claim of an access token (read, not verified: it is our own account's)."""
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sid"])


# -- accounts ----------------------------------------------------------------------------------


@dataclass
class Account:
    """A real account whose access token generated requests carry."""

    role: Role
    email: str
    password: str
    user_id: str
    access_token: str
    refresh_token: str
    renew_at: float
    needs_check: bool = False


class Accounts:
    """The accounts generated requests act as, kept working (see the module docstring)."""

    def __init__(self, http: requests.Session, base_url: str, stack: Stack, pace: Pace) -> None:
        self._http = http
        self._base_url = base_url
        self._stack = stack
        self._pace = pace
        self._current: dict[Role, Account] = {}
        self._by_token: dict[str, Account] = {}
        self.made: Counter[Role] = Counter()

    def token(self, role: Role) -> str:
        return self.account(role).access_token

    def account(self, role: Role) -> Account:
        """A working account of `role`, made or repaired if needed."""
        account = self._current.get(role)
        if account is None or (account.needs_check and not self._still_works(account)):
            return self._make(role)
        if time.monotonic() >= account.renew_at:
            return self._renewed(account)
        return account

    def replace(self, role: Role) -> Account:
        """A new account of `role` from now on."""
        return self._make(role)

    def check_all(self) -> None:
        """Check every account before its next use (a request may have changed any of them)."""
        for account in self._current.values():
            account.needs_check = True

    def owning(self, token: str | None) -> Account | None:
        """The account an access token was issued to (current or replaced), if it is ours."""
        return self._by_token.get(token) if token else None

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request of the harness itself (not a generated one). A 429 or 503 with Retry-After
        is waited out and sent again, as a client should."""
        for _ in range(SEND_ATTEMPTS):
            if path in RATE_LIMITED_PATHS:
                self._pace.wait()
            response = self._http.request(
                method, self._base_url + path, timeout=REQUEST_TIMEOUT_SECONDS, **kwargs
            )
            retry_after = response.headers.get("Retry-After")
            if response.status_code not in (429, 503) or retry_after is None:
                return response
            time.sleep(float(retry_after))
        return response

    def _still_works(self, account: Account) -> bool:
        me = self.send(
            "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {account.access_token}"}
        )
        works = me.status_code == 200 and me.json()["role"] == account.role.value
        account.needs_check = not works
        return works

    def _renewed(self, account: Account) -> Account:
        """`account` with a fresh access token, or a new account if it cannot have one."""
        refreshed = self.send(
            "POST", "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        if refreshed.status_code == 200:
            self._take_tokens(account, refreshed.json())
            return account
        return account if self._log_in(account) else self._make(account.role)

    def _make(self, role: Role) -> Account:
        email, password = unique_email(), f"pw-{uuid.uuid4().hex}"
        if role is Role.ADMIN:
            self._stack.identity_cli(
                "create-user", "--email", email, "--password", password, "--role", "admin",
                "--full-name", "Fuzzing admin",
            )  # fmt: skip
        else:
            registered = self.send(
                "POST", "/api/v1/auth/register", json={"email": email, "password": password}
            )
            assert registered.status_code == 201, registered.text
        account = Account(role, email, password, "", "", "", renew_at=0)
        assert self._log_in(account), f"a new {role} account could not log in"
        self._current[role] = account
        self.made[role] += 1
        return account

    def _log_in(self, account: Account) -> bool:
        response = self.send(
            "POST",
            "/api/v1/auth/login",
            json={"email": account.email, "password": account.password},
        )
        if response.status_code != 200:
            return False
        self._take_tokens(account, response.json())
        me = self.send(
            "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {account.access_token}"}
        )
        account.user_id = me.json()["id"]
        account.needs_check = me.json()["role"] != account.role.value
        return not account.needs_check

    def _take_tokens(self, account: Account, pair: Mapping[str, Any]) -> None:
        account.access_token, account.refresh_token = pair["access_token"], pair["refresh_token"]
        account.renew_at = time.monotonic() + pair["expires_in"] - RENEW_BEFORE_EXPIRY_SECONDS
        self._by_token[account.access_token] = account


# -- real values -------------------------------------------------------------------------------


def _cursor_scope(case: ApiCase) -> str:
    """Cursors are bound to their listing and, for items, to its sort order."""
    sort = (case.query or {}).get("sort", "-created_at") if case.path == "/api/v1/items" else ""
    return f"{case.path} {sort}"


_CREDENTIAL_EXCHANGES: Final = frozenset(
    {"POST /api/v1/auth/login", "POST /api/v1/auth/register", "POST /api/v1/auth/refresh"}
)


def _may_change_an_account(case: ApiCase, response: schemathesis.Response) -> bool:
    """Whether a successful request may have deleted, deactivated, demoted or logged out one of
    the run's accounts (an admin may act on any user; a user on itself and its sessions)."""
    return (
        200 <= response.status_code < 300
        and case.method.upper() in ("POST", "PATCH", "DELETE")
        and case.path.startswith(("/api/v1/users", "/api/v1/auth"))
        and _label(case) not in _CREDENTIAL_EXCHANGES
    )


class RealValues:
    """What generated requests need to be real (see the module docstring), and what the run
    learns from the answers: issued cursors, and which account a request has made unusable."""

    def __init__(self, accounts: Accounts, pace: Pace) -> None:
        self._accounts = accounts
        self._pace = pace
        self._issued_cursors: dict[str, list[str]] = {}
        self._handed_out: set[str] = set()  # so that a replayed case keeps what it was given
        self.substituted: Counter[str] = Counter()

    def before_call(self, case: ApiCase) -> None:
        self._give_real_values(case)
        if case.path in RATE_LIMITED_PATHS:
            self._pace.wait()  # after the values: giving them may have used the budget

    def _give_real_values(self, case: ApiCase) -> None:
        if not _is_positive(case):
            return
        query = case.query if isinstance(case.query, dict) else {}
        if "cursor" in query:
            scope = _cursor_scope(case)
            if query["cursor"] not in self._issued_cursors.get(scope, []):
                query["cursor"] = self._issued_cursor(case, scope)
                self.substituted["issued cursor"] += 1
        body = case.body if isinstance(case.body, dict) else {}
        label = _label(case)
        account = self._accounts.owning(_bearer(case))
        if label == "POST /api/v1/auth/login" and self._take(case, body.get("email")):
            user = self._accounts.account(Role.USER)
            body["email"], body["password"] = user.email, user.password
            self._hand_out("login of a real account", user.email)
        elif "refresh_token" in body and self._take(case, body["refresh_token"]):
            body["refresh_token"] = self._hand_out("refresh token just issued", self._refresh())
        elif (
            label == "POST /api/v1/users/me/password"
            and account is not None
            and self._take(case, body.get("current_password"))
        ):
            body["current_password"] = self._hand_out("current password", account.password)
        params = case.path_parameters or {}
        if_match = _header(case.headers, "If-Match")
        if if_match is not None and self._take(case, if_match):
            etag = self._current_etag(case)
            if etag is not None:
                case.headers["If-Match"] = etag
                self._hand_out("current ETag", etag)
        session_id = params.get("session_id")
        if session_id is not None and account is not None and self._take(case, session_id):
            params["session_id"] = self._hand_out(
                "own session id", _session_id(account.access_token)
            )

    def after_call(self, case: ApiCase, response: schemathesis.Response) -> None:
        account = self._accounts.owning(_bearer(case))
        if account is not None and self._may_have_lost(account, case, response):
            account.needs_check = True
        if _may_change_an_account(case, response):
            self._accounts.check_all()
        body = _json(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("next_cursor"):
            self._issued_cursors.setdefault(_cursor_scope(case), []).append(body["next_cursor"])
        sent = case.body if isinstance(case.body, dict) else {}
        if (
            _label(case) == "POST /api/v1/users/me/password"
            and response.status_code == 204
            and account is not None
        ):
            account.password = str(sent["new_password"])

    def _take(self, case: ApiCase, current: object) -> bool:
        """Whether to replace `current`: not a value handed out already, and heads."""
        return current not in self._handed_out and _coin(case, "real value")

    def _hand_out(self, what: str, value: str) -> str:
        self._handed_out.add(value)
        self.substituted[what] += 1
        return value

    def _current_etag(self, case: ApiCase) -> str | None:
        """The item's ETag now, if the case's caller can read it (else the item is not there
        for this caller, and no If-Match can make the update succeed anyway)."""
        token = _bearer(case)
        item = self._accounts.send(
            "GET", case.formatted_path, headers={"Authorization": f"Bearer {token}"}
        )
        return item.headers.get("ETag") if item.status_code == 200 else None

    def _refresh(self) -> str:
        """A refresh token the user was just issued (by a login of its own)."""
        user = self._accounts.account(Role.USER)
        login = self._log_in(user)
        if login.status_code != 200:  # it has gone, or lost its password, since its last check
            login = self._log_in(self._accounts.replace(Role.USER))
        assert login.status_code == 200, login.text
        return str(login.json()["refresh_token"])

    def _log_in(self, account: Account) -> requests.Response:
        return self._accounts.send(
            "POST",
            "/api/v1/auth/login",
            json={"email": account.email, "password": account.password},
        )

    def _may_have_lost(
        self, account: Account, case: ApiCase, response: schemathesis.Response
    ) -> bool:
        if response.status_code == 401:
            return True
        is_admin_operation = case.path.startswith("/api/v1/users") and not case.path.startswith(
            "/api/v1/users/me"
        )
        return account.role is Role.ADMIN and is_admin_operation and response.status_code == 403

    def _issued_cursor(self, case: ApiCase, scope: str) -> str:
        """A cursor this listing issued: after the first page of one item or user (any caller
        may use it: it holds only a position)."""
        issued = self._issued_cursors.get(scope)
        if issued:
            return issued[0]
        role = Role.USER if case.path == "/api/v1/items" else Role.ADMIN
        headers = {"Authorization": f"Bearer {self._accounts.token(role)}"}
        params: dict[str, Any] = {"limit": 1}
        if case.path == "/api/v1/items":
            params["sort"] = (case.query or {}).get("sort", "-created_at")
            for _ in range(2):  # a page of one has a next page once there are two
                self._accounts.send(
                    "POST", "/api/v1/items", headers=headers, json={"name": "cursor anchor"}
                )
        page = self._accounts.send("GET", case.path, headers=headers, params=params)
        cursor = page.json()["next_cursor"] if page.status_code == 200 else None
        assert cursor, f"no cursor from {case.path}: {page.status_code} {page.text[:300]}"
        self._issued_cursors[scope] = [cursor]
        return str(cursor)


# -- tolerated answers ---------------------------------------------------------------------------


def _canonical_body(case: ApiCase) -> str:
    return json.dumps(case.body, sort_keys=True, default=str)


class Tolerance:
    """The failures of correct answers, dropped one by one after checking their reason."""

    IDEMPOTENCY_KEY_REUSED: Final = (
        "422 idempotency_key_reused: the key came with another body before (IETF "
        "idempotency-key draft)"
    )
    STALE_IF_MATCH: Final = (
        "412 precondition_failed: If-Match named no strong current ETag (RFC 9110 13.1.1)"
    )
    RESTORED_AFTER_DELETE: Final = (
        "use after delete: the item was restored since (POST /restore undoes a delete)"
    )
    LIMITED_BEFORE_AUTH: Final = (
        "429 to a request without Authorization: the gateway's credential budget answers "
        "before the service asks for credentials (the retry after Retry-After got 401)"
    )
    TRANSFER_CODING_NOT_IMPLEMENTED: Final = (
        "501 not_implemented to a generated Transfer-Encoding: the gateway implements chunked "
        "only (RFC 9112 6.1: a server answers 501 to a transfer coding it does not understand)"
    )
    UNMAILED_TOKEN: Final = (
        "400 invalid_token: the token was generated, not one a mail carried (only a mailed "
        "token is valid, which no schema can say; the mailed ones are tested on their own)"
    )
    GENERATED_TOTP_CODE: Final = (
        "400 invalid_code: the TOTP code was generated, not computed from the pending secret "
        "(which no schema can say; identity's own run, in process, computes real ones)"
    )
    REPLAYED_AFTER_DELETE: Final = (
        "created item not found: the 201 was an Idempotency-Key replay of an item deleted "
        "before it (a replay is the first response again)"
    )

    def __init__(self, accounts: Accounts, http: requests.Session, base_url: str) -> None:
        self._accounts = accounts
        self._http = http
        self._base_url = base_url
        self._first_bodies: dict[tuple[str, str], str] = {}
        self._clock = itertools.count()
        self._deleted: dict[str, int] = {}
        self._restored: dict[str, int] = {}
        self._replayed: dict[str, int] = {}
        self.dropped: Counter[str] = Counter()

    def after_call(self, case: ApiCase, response: schemathesis.Response) -> None:
        """Remember the body each user first created an item with, per Idempotency-Key, and
        when each item was last deleted and restored."""
        item_id = str((case.path_parameters or {}).get("item_id"))
        if _label(case) == "DELETE /api/v1/items/{item_id}" and response.status_code == 204:
            self._deleted[item_id] = next(self._clock)
        if _label(case) == "POST /api/v1/items/{item_id}/restore" and response.status_code == 200:
            self._restored[item_id] = next(self._clock)
        if (
            _label(case) == "POST /api/v1/items"
            and response.status_code == 201
            and _response_header(response, "Idempotent-Replayed") == "true"
        ):
            self._replayed[str(_json(response)["id"])] = next(self._clock)
        key = _header(case.headers, "Idempotency-Key")
        account = self._accounts.owning(_bearer(case))
        if (
            case.method.upper() == "POST"
            and case.path == "/api/v1/items"
            and response.status_code == 201
            and isinstance(key, str)
            and account is not None
        ):
            self._first_bodies.setdefault((account.user_id, key), _canonical_body(case))

    def keeps(self, failure: Any, case: ApiCase, response: schemathesis.Response) -> bool:
        reason = self._reason(failure, case, response)
        if reason is None:
            return True
        self.dropped[reason] += 1
        return False

    def _reason(self, failure: Any, case: ApiCase, response: schemathesis.Response) -> str | None:
        if isinstance(failure, UseAfterFree):
            return self.RESTORED_AFTER_DELETE if self._was_restored_since_deleted(case) else None
        if isinstance(failure, (ServerError, UndefinedStatusCode)):
            unknown_coding = self._transfer_coding_not_implemented(response)
            return self.TRANSFER_CODING_NOT_IMPLEMENTED if unknown_coding else None
        if isinstance(failure, MissingHeaderNotRejected):
            return (
                self.LIMITED_BEFORE_AUTH if self._limited_before_auth(failure, response) else None
            )
        if isinstance(failure, EnsureResourceAvailability):
            return self.REPLAYED_AFTER_DELETE if self._was_replayed_after_delete(case) else None
        if not isinstance(failure, RejectedPositiveData):
            return None
        code = _problem_code(response)
        if response.status_code == 422 and code == "idempotency_key_reused":
            return self.IDEMPOTENCY_KEY_REUSED if self._key_was_reused(case) else None
        if response.status_code == 412 and code == "precondition_failed":
            return self.STALE_IF_MATCH if self._if_match_was_stale(case) else None
        if response.status_code == 400 and code == "invalid_token":
            return self.UNMAILED_TOKEN if self._token_was_generated(case) else None
        if response.status_code == 400 and code == "invalid_code":
            confirm = _label(case) == "POST /api/v1/users/me/mfa/totp/confirm"
            return self.GENERATED_TOTP_CODE if confirm else None
        return None

    def _token_was_generated(self, case: ApiCase) -> bool:
        """The run reads no mail, so any token it sends was generated, unless a response
        handed one out (none does: tokens travel by mail only)."""
        body = case.body if isinstance(case.body, dict) else {}
        return case.path in MAILED_TOKEN_PATHS and isinstance(body.get("token"), str)

    def _was_restored_since_deleted(self, case: ApiCase) -> bool:
        item_id = str((case.path_parameters or {}).get("item_id"))
        return self._restored.get(item_id, -1) > self._deleted.get(item_id, -1) >= 0

    def _transfer_coding_not_implemented(self, response: schemathesis.Response) -> bool:
        coding = response.request.headers.get("Transfer-Encoding")
        return (
            response.status_code == 501
            and _problem_code(response) == "not_implemented"
            and coding is not None
            and coding.strip().lower() != "chunked"
        )

    def _limited_before_auth(
        self, failure: MissingHeaderNotRejected, response: schemathesis.Response
    ) -> bool:
        return (
            failure.header_name.lower() == "authorization"
            and response.status_code == 429
            and _problem_code(response) == "too_many_requests"
            and _response_header(response, "Retry-After") is not None
        )

    def _was_replayed_after_delete(self, case: ApiCase) -> bool:
        item_id = str((case.path_parameters or {}).get("item_id"))
        deleted = self._deleted.get(item_id)
        replayed = self._replayed.get(item_id)
        restored = self._restored.get(item_id, -1)
        return deleted is not None and replayed is not None and restored < deleted < replayed

    def _key_was_reused(self, case: ApiCase) -> bool:
        account = self._accounts.owning(_bearer(case))
        key = _header(case.headers, "Idempotency-Key")
        if account is None or not isinstance(key, str):
            return False
        first = self._first_bodies.get((account.user_id, key))
        return first is not None and first != _canonical_body(case)

    def _if_match_was_stale(self, case: ApiCase) -> bool:
        if_match = _header(case.headers, "If-Match")
        token = _bearer(case)
        if not isinstance(if_match, str) or if_match.strip() == "*" or token is None:
            return False
        current = self._http.get(
            self._base_url + case.formatted_path,
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        etag = current.headers.get("ETag")
        named = {tag.strip() for tag in if_match.split(",")}
        return current.status_code == 200 and etag is not None and etag not in named


# -- the run -----------------------------------------------------------------------------------


def _redacted(text: str) -> str:
    """A response body for a report, without the values of credential fields."""
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(body, dict):
        body = {
            key: "[Filtered]" if any(m in key.lower() for m in SENSITIVE_MARKERS) else value
            for key, value in body.items()
        }
    return json.dumps(body)[:500]


@dataclass
class FuzzReport:
    """What a run found and did."""

    service: str
    failures: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cases_by_phase: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    tolerated: Counter[str] = field(default_factory=Counter)
    substituted: Counter[str] = field(default_factory=Counter)
    accounts_made: Counter[Role] = field(default_factory=Counter)
    stateful_links: int = 0
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        return [*self.failures.values(), *self.errors]

    def describe(self) -> str:
        lines = [
            f"schemathesis through the gateway, {self.service}: {self.seconds:.0f} s, cases "
            f"{dict(self.cases_by_phase)}, {self.stateful_links} stateful links, accounts made "
            f"{dict(self.accounts_made)}",
            "real values given to positive cases: " + json.dumps(dict(self.substituted)),
            "tolerated failures (reason: count): " + json.dumps(dict(self.tolerated)),
            "answers (operation status: count; methods the document does not declare aside):",
            *(
                f"  {label} {status}: {n}"
                for (label, status), n in sorted(self.statuses.items())
                if status != 405 and not label.startswith("OPTIONS ")
            ),
        ]
        if self.problems:
            lines += ["", f"{len(self.problems)} problem(s):", *self.problems]
        return "\n".join(lines)


def _config(base_url: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "base-url": base_url,
            "seed": SEED,
            "continue-on-failure": True,
            "rate-limit": "auto",
            # Login also answers 429 from identity's per-email throttle (`too_many_attempts`,
            # generated emails come back again and again), and the operations that take a TOTP
            # code from its per-account throttle, with a `Retry-After` that doubles up to an
            # hour: waiting it out would stall the run, so there a 429 is validated like any
            # other answer (a limiter far above the run's pace stands in for "no waiting").
            "operations": [
                {"include-path": path, "rate-limit": "100000/s"} for path in ACCOUNT_THROTTLED
            ],
            "request-timeout": REQUEST_TIMEOUT_SECONDS,
            "cache": {"enabled": False},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": True},
            "phases": {"stateful": {"max-steps": STATEFUL_MAX_STEPS}},
            "output": {"sanitization": {"sensitive-markers": SENSITIVE_MARKERS}},
            "auth": {"auto-signup": False},
        }
    )


def _role_for(case: ApiCase) -> Role:
    if case.path.startswith("/api/v1/users") and not case.path.startswith("/api/v1/users/me"):
        return Role.ADMIN
    # Admins may filter items by any owner; for a user that is a (documented) 403. Half the
    # cases with an owner filter go each way, decided by their content so replays agree.
    query = case.query if isinstance(case.query, dict) else {}
    if "owner" in query:
        digest = hashlib.sha256(repr(sorted(query.items())).encode()).digest()
        return Role.ADMIN if digest[0] % 2 else Role.USER
    return Role.USER


@contextmanager
def _global_hook(name: str, hook: Callable[..., None]) -> Iterator[None]:
    """`before_call` exists only globally: register it for the run, and only for it."""
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(hook, name)
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(hook)


def _wire(
    schema: BaseSchema, accounts: Accounts, values: RealValues, tolerance: Tolerance
) -> Callable[[HookContext, ApiCase, dict[str, Any]], None]:
    """Install the harness on `schema`; return its `before_call` hook (global, see above)."""

    class BearerOfARealAccount:
        def get(self, case: ApiCase, context: schemathesis.AuthContext) -> str | None:
            if not context.operation.definition.raw.get("security"):
                return None
            return accounts.token(_role_for(case))

        def set(self, case: ApiCase, data: str, context: schemathesis.AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {data}"

    schema.auth(refresh_interval=None)(BearerOfARealAccount)

    def after_call(context: HookContext, case: ApiCase, response: schemathesis.Response) -> None:
        values.after_call(case, response)
        tolerance.after_call(case, response)

    def filter_failure(
        context: HookContext,
        failure: Any,
        case: ApiCase,
        response: schemathesis.Response,
    ) -> bool:
        return tolerance.keeps(failure, case, response)

    schema.hooks.register_hook_with_name(after_call, "after_call")
    schema.hooks.register_hook_with_name(filter_failure, "filter_failure")

    def before_call(context: HookContext, case: ApiCase, kwargs: dict[str, Any]) -> None:
        if case.operation.schema is schema:
            values.before_call(case)

    return before_call


def _record(report: FuzzReport, event: events.EngineEvent) -> None:
    if isinstance(event, events.ScenarioFinished):
        report.cases_by_phase[event.phase.value] += len(event.recorder.cases)
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                if check.status != Status.FAILURE or check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                key = f"{event.recorder.label} | {check.name} | {failure.title}"
                if key in report.failures:
                    continue
                response = event.recorder.find_response(case_id=case_id)
                answer = (
                    f"{response.status_code} {_redacted(response.text)}"
                    if response is not None
                    else "no response"
                )
                report.failures[key] = (
                    f"- {key}\n  {failure.message}\n  answer: {answer}\n"
                    f"  {check.failure_info.code_sample}"
                )
    elif isinstance(event, events.NonFatalError):
        report.errors.append(f"- error in {event.label}: {event.info.format()}")
    elif isinstance(event, events.FatalError):
        report.errors.append(f"- fatal: {event.exception!r}")
    elif isinstance(event, events.PhaseStarted) and event.payload is not None:
        report.stateful_links = event.payload.transitions_selected


def fuzz(stack: Stack, service: str) -> FuzzReport:
    """Run Schemathesis on `service`'s document through `stack`'s gateway."""
    started = time.monotonic()
    report = FuzzReport(service)
    with requests.Session() as http:
        pace = Pace(CREDENTIAL_PACE_PER_SECOND)
        accounts = Accounts(http, stack.base_url, stack, pace)
        values = RealValues(accounts, pace)
        tolerance = Tolerance(accounts, http, stack.base_url)
        schema = schemathesis.openapi.from_url(
            f"{stack.base_url}/docs/{service}/openapi.json", config=_config(stack.base_url)
        )
        before_call = _wire(schema, accounts, values, tolerance)

        def count_answer(
            context: HookContext, case: ApiCase, response: schemathesis.Response
        ) -> None:
            report.statuses[(f"{case.method.upper()} {case.path}", response.status_code)] += 1

        schema.hooks.register_hook_with_name(count_answer, "after_call")
        with _global_hook("before_call", before_call):
            for event in from_schema(schema).execute():
                _record(report, event)
        report.tolerated = tolerance.dropped
        report.substituted = values.substituted
        report.accounts_made = accounts.made
    report.seconds = time.monotonic() - started
    return report
