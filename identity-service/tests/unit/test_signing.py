"""AccessTokenIssuer: RFC 9068 access tokens signed by the active key."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest

from identity.security.keys import generate_es256_key, load_private_key, load_public_jwk
from identity.security.signing import AccessTokenIssuer, AccessTokenPolicy, ActiveSigningKey
from service_kit.security.jwt_verify import AccessTokenVerifier, Principal
from service_kit_testing import FakeClock

ISSUER = "https://identity.example.test"
AUDIENCE = "api"
TTL_SECONDS = 900
SUBJECT = uuid.UUID("7d1f3c2a-5b4e-4f6a-9c8d-1e2f3a4b5c6d")
SESSION_ID = uuid.UUID("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")

KEY = generate_es256_key()


class InMemorySigningKeys:
    """A SigningKeyProvider, and the matching KeySource, over one generated key."""

    def active_signing_key(self) -> ActiveSigningKey:
        return ActiveSigningKey(KEY.kid, KEY.algorithm, load_private_key(KEY.private_pem))

    def find_key(self, kid: str) -> Any | None:
        return load_public_jwk(KEY.public_jwk) if kid == KEY.kid else None


@pytest.fixture
def issuer() -> AccessTokenIssuer:
    policy = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE, ttl_seconds=TTL_SECONDS)
    return AccessTokenIssuer(InMemorySigningKeys(), policy)


LOGGED_IN_AGO = timedelta(hours=3)


def _issue(issuer: AccessTokenIssuer, clock: FakeClock, role: str = "user") -> str:
    return issuer.issue(
        subject=SUBJECT,
        role=role,
        session_id=SESSION_ID,
        auth_time=clock.now() - LOGGED_IN_AGO,
        now=clock.now(),
    )


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        load_public_jwk(KEY.public_jwk),
        algorithms=["ES256"],
        audience=AUDIENCE,
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    return claims


def test_issue_signs_with_the_active_key_when_issuing(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    token = _issue(issuer, clock)

    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}


def test_issue_includes_every_rfc9068_claim_when_issuing(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    token = _issue(issuer, clock)

    assert set(_claims(token)) == {
        "iss",
        "aud",
        "sub",
        "iat",
        "nbf",
        "exp",
        "jti",
        "sid",
        "role",
        "auth_time",
        "email_verified",
    }


def test_issue_carries_the_login_time_as_auth_time_when_issuing(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    claims = _claims(_issue(issuer, clock))

    assert claims["auth_time"] == int((clock.now() - LOGGED_IN_AGO).timestamp())


def test_issue_describes_the_caller_when_issuing(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    token = _issue(issuer, clock, role="admin")

    claims = _claims(token)
    assert (claims["iss"], claims["aud"], claims["sub"], claims["sid"], claims["role"]) == (
        ISSUER,
        AUDIENCE,
        str(SUBJECT),
        str(SESSION_ID),
        "admin",
    )


def test_issue_times_the_token_from_the_given_now_when_issuing(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    now = int(clock.now().timestamp())

    claims = _claims(_issue(issuer, clock))

    assert (claims["iat"], claims["nbf"], claims["exp"]) == (now, now, now + TTL_SECONDS)


def test_issue_gives_each_token_its_own_jti_when_issuing_twice(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    first, second = _issue(issuer, clock), _issue(issuer, clock)

    assert _claims(first)["jti"] != _claims(second)["jti"]


def test_issue_produces_a_token_the_shared_verifier_accepts_when_keys_match(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    verifier = AccessTokenVerifier(
        InMemorySigningKeys(), issuer=ISSUER, audience=AUDIENCE, clock=clock
    )
    token = _issue(issuer, clock)

    principal = verifier.verify(token)

    assert principal == Principal(
        user_id=SUBJECT,
        role="user",
        session_id=SESSION_ID,
        token_id=_claims(token)["jti"],
        auth_time=clock.now() - LOGGED_IN_AGO,
    )


def _issue_with_bound(issuer: AccessTokenIssuer, clock: FakeClock, not_before: datetime) -> str:
    return issuer.issue(
        subject=SUBJECT,
        role="user",
        session_id=SESSION_ID,
        auth_time=clock.now() - LOGGED_IN_AGO,
        now=clock.now(),
        not_before=not_before,
    )


def test_issue_dates_the_token_at_the_bound_when_a_revocation_bound_is_ahead_of_the_clock(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    clock.advance(seconds=0.7)  # 12:00:00.7; a revocation a moment ago set the bound 12:00:01
    bound = clock.now().replace(microsecond=0) + timedelta(seconds=1)

    claims = _claims(_issue_with_bound(issuer, clock, bound))

    expected = int(bound.timestamp())
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (
        expected,
        expected,
        expected + TTL_SECONDS,
    )


def test_issue_dates_the_token_at_the_current_second_when_the_revocation_bound_has_passed(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    bound = clock.now() - timedelta(minutes=5)
    clock.advance(seconds=0.7)

    claims = _claims(_issue_with_bound(issuer, clock, bound))

    assert claims["iat"] == int(clock.now().timestamp())


def test_issue_dates_a_token_the_verifier_accepts_when_it_is_dated_at_a_bound_ahead(
    issuer: AccessTokenIssuer, clock: FakeClock
) -> None:
    verifier = AccessTokenVerifier(
        InMemorySigningKeys(), issuer=ISSUER, audience=AUDIENCE, clock=clock
    )
    clock.advance(seconds=0.1)
    bound = clock.now().replace(microsecond=0) + timedelta(seconds=1)

    principal = verifier.verify(_issue_with_bound(issuer, clock, bound))

    assert principal.user_id == SUBJECT
