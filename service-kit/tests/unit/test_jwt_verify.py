"""AccessTokenVerifier: a valid RFC 9068 token becomes a Principal; anything else is rejected."""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from service_kit.errors import InvalidTokenError
from service_kit.security.jwt_verify import AccessTokenVerifier, Principal, VerifiedTokens
from service_kit_testing import FakeClock, forgery

ISSUER = "https://identity.example.test"
AUDIENCE = "api"
KID = "key-1"
HEADER = {"kid": KID, "typ": "at+jwt"}
TTL_SECONDS = 900
LEEWAY_SECONDS = 10
USER_ID = uuid.UUID("7d1f3c2a-5b4e-4f6a-9c8d-1e2f3a4b5c6d")
SESSION_ID = uuid.UUID("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")

PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())


class InMemoryKeys:
    """A KeySource over a dict of public keys by kid."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self._keys = keys

    def find_key(self, kid: str) -> Any | None:
        return self._keys.get(kid)


@pytest.fixture
def verifier(clock: FakeClock) -> AccessTokenVerifier:
    return AccessTokenVerifier(
        InMemoryKeys({KID: PRIVATE_KEY.public_key()}),
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway_seconds=LEEWAY_SECONDS,
        clock=clock,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def valid_claims(clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(USER_ID),
        "iat": now,
        "nbf": now,
        "exp": now + TTL_SECONDS,
        "jti": "token-1",
        "sid": str(SESSION_ID),
        "role": "user",
    }
    claims.update(overrides)
    return claims


def sign(
    claims: dict[str, Any],
    *,
    key: ec.EllipticCurvePrivateKey = PRIVATE_KEY,
    headers: dict[str, Any] | None = None,
) -> str:
    # PyJWS rather than jwt.encode, which refuses some of the malformed claims we need.
    return jwt.api_jws.encode(
        json.dumps(claims).encode(),
        key,
        algorithm="ES256",
        headers=headers or HEADER,
    )


def test_verify_returns_principal_when_token_is_valid(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    token = sign(valid_claims(clock))

    principal = verifier.verify(token)

    assert principal == Principal(
        user_id=USER_ID, role="user", session_id=SESSION_ID, token_id="token-1"
    )


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_verify_accepts_token_when_typ_is_an_access_token_media_type(
    verifier: AccessTokenVerifier, clock: FakeClock, typ: str
) -> None:
    token = sign(valid_claims(clock), headers={"kid": KID, "typ": typ})

    principal = verifier.verify(token)

    assert principal.user_id == USER_ID


def test_verify_raises_invalid_token_when_token_expired_beyond_leeway(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    token = sign(valid_claims(clock))
    clock.advance(seconds=TTL_SECONDS + LEEWAY_SECONDS)

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_accepts_token_when_expired_within_leeway(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    token = sign(valid_claims(clock))
    clock.advance(seconds=TTL_SECONDS + LEEWAY_SECONDS - 1)

    principal = verifier.verify(token)

    assert principal.user_id == USER_ID


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_verify_raises_invalid_token_when_time_claim_is_in_the_future_beyond_leeway(
    verifier: AccessTokenVerifier, clock: FakeClock, claim: str
) -> None:
    future = int(clock.now().timestamp()) + LEEWAY_SECONDS + 1
    token = sign(valid_claims(clock, **{claim: future}))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_verify_accepts_token_when_time_claim_is_in_the_future_within_leeway(
    verifier: AccessTokenVerifier, clock: FakeClock, claim: str
) -> None:
    future = int(clock.now().timestamp()) + LEEWAY_SECONDS - 1
    token = sign(valid_claims(clock, **{claim: future}))

    principal = verifier.verify(token)

    assert principal.user_id == USER_ID


@pytest.mark.parametrize(
    "iss", ["https://evil.example.test", "https://identity.example.test/", "", 42]
)
def test_verify_raises_invalid_token_when_issuer_is_wrong(
    verifier: AccessTokenVerifier, clock: FakeClock, iss: object
) -> None:
    token = sign(valid_claims(clock, iss=iss))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize("aud", ["other-api", ["other-api", "admin"], "", []])
def test_verify_raises_invalid_token_when_audience_is_wrong(
    verifier: AccessTokenVerifier, clock: FakeClock, aud: object
) -> None:
    token = sign(valid_claims(clock, aud=aud))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "sid", "role"])
def test_verify_raises_invalid_token_when_claim_is_missing(
    verifier: AccessTokenVerifier, clock: FakeClock, claim: str
) -> None:
    claims = valid_claims(clock)
    del claims[claim]
    token = sign(claims)

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"sub": "not-a-uuid"}, id="sub-not-uuid"),
        pytest.param({"sid": "not-a-uuid"}, id="sid-not-uuid"),
        pytest.param({"exp": "soon"}, id="exp-not-a-number"),
    ],
)
def test_verify_raises_invalid_token_when_claim_value_is_malformed(
    verifier: AccessTokenVerifier, clock: FakeClock, overrides: dict[str, Any]
) -> None:
    token = sign(valid_claims(clock, **overrides))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"kid": KID, "typ": "JWT"}, id="typ-JWT"),
        pytest.param({"kid": KID, "typ": "refresh+jwt"}, id="typ-other"),
        pytest.param({"kid": KID, "typ": None}, id="typ-missing"),
    ],
)
def test_verify_raises_invalid_token_when_typ_is_not_at_jwt(
    verifier: AccessTokenVerifier, clock: FakeClock, headers: dict[str, Any]
) -> None:
    token = sign(valid_claims(clock), headers=headers)

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_raises_invalid_token_when_alg_is_none(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    token = forgery.alg_none(HEADER, valid_claims(clock))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_raises_invalid_token_when_hs256_is_keyed_with_the_public_key_pem(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    pem = forgery.public_key_pem(PRIVATE_KEY.public_key())
    token = forgery.hs256_keyed_with(pem, HEADER, valid_claims(clock))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"kid": "unknown-key", "typ": "at+jwt"}, id="unknown"),
        pytest.param({"kid": "", "typ": "at+jwt"}, id="empty"),
        pytest.param({"typ": "at+jwt"}, id="missing"),
    ],
)
def test_verify_raises_invalid_token_when_kid_is_not_trusted(
    verifier: AccessTokenVerifier, clock: FakeClock, headers: dict[str, Any]
) -> None:
    token = sign(valid_claims(clock), headers=headers)

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_raises_invalid_token_when_signed_by_another_key_under_a_trusted_kid(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    token = sign(valid_claims(clock), key=OTHER_PRIVATE_KEY)

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_raises_invalid_token_when_payload_was_tampered_with(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    token = sign(valid_claims(clock))
    tampered = forgery.with_payload(token, valid_claims(clock, role="admin"))

    with pytest.raises(InvalidTokenError):
        verifier.verify(tampered)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda token: "", id="empty"),
        pytest.param(lambda token: "not-a-jwt", id="garbage"),
        pytest.param(lambda token: token.rsplit(".", 1)[0], id="no-signature"),
        pytest.param(lambda token: token[:-4], id="truncated-signature"),
        pytest.param(lambda token: "a.b.c", id="bad-base64"),
    ],
)
def test_verify_raises_invalid_token_when_token_is_malformed(
    verifier: AccessTokenVerifier, clock: FakeClock, mangle: Callable[[str], str]
) -> None:
    token = mangle(sign(valid_claims(clock)))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize(
    "algorithms",
    [
        pytest.param([], id="empty"),
        pytest.param(["HS256"], id="hmac"),
        pytest.param(["none"], id="none"),
        pytest.param(["ES256", "HS512"], id="mixed"),
    ],
)
def test_verifier_refuses_to_build_when_algorithms_are_not_asymmetric_only(
    algorithms: list[str],
) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        AccessTokenVerifier(
            InMemoryKeys({}), issuer=ISSUER, audience=AUDIENCE, algorithms=algorithms
        )


@pytest.mark.parametrize("typ", [1, None, ["at+jwt"], {"t": "at+jwt"}])
def test_verify_raises_invalid_token_when_typ_is_not_a_string(
    verifier: AccessTokenVerifier, clock: FakeClock, typ: object
) -> None:
    header = forgery.json_segment({"alg": "ES256", "kid": KID, "typ": typ})
    payload = forgery.json_segment(valid_claims(clock))
    token = f"{header}.{payload}.{forgery.b64url(b'not-a-signature')}"

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_returns_auth_time_when_token_carries_it(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    login_at = clock.now() - timedelta(hours=2)
    token = sign(valid_claims(clock, auth_time=int(login_at.timestamp())))

    principal = verifier.verify(token)

    assert principal.auth_time == login_at


def test_verify_returns_no_auth_time_when_claim_is_absent_and_not_required(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    principal = verifier.verify(sign(valid_claims(clock)))

    assert principal.auth_time is None


def test_verify_raises_invalid_token_when_a_required_auth_time_is_absent(
    clock: FakeClock,
) -> None:
    verifier = AccessTokenVerifier(
        InMemoryKeys({KID: PRIVATE_KEY.public_key()}),
        issuer=ISSUER,
        audience=AUDIENCE,
        extra_required_claims=("auth_time",),
        clock=clock,
    )

    with pytest.raises(InvalidTokenError):
        verifier.verify(sign(valid_claims(clock)))


@pytest.mark.parametrize(
    "auth_time", ["1893499200", True, [1], -1e300], ids=["string", "bool", "list", "out_of_range"]
)
def test_verify_raises_invalid_token_when_auth_time_is_not_a_timestamp(
    verifier: AccessTokenVerifier, clock: FakeClock, auth_time: object
) -> None:
    token = sign(valid_claims(clock, auth_time=auth_time))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_raises_invalid_token_when_auth_time_is_after_the_token_was_issued(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    issued_at = int(clock.now().timestamp())
    token = sign(valid_claims(clock, auth_time=issued_at + LEEWAY_SECONDS + 1))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


# --------------------------------------------------------------------------- issued_at, lifetime


def test_verify_returns_issued_at_from_the_iat_claim(
    verifier: AccessTokenVerifier, clock: FakeClock
) -> None:
    issued = int(clock.now().timestamp()) - 5
    token = sign(valid_claims(clock, iat=issued))

    principal = verifier.verify(token)

    assert principal.issued_at == datetime.fromtimestamp(issued, UTC)


@pytest.mark.parametrize("iat", ["1893499200", True, None], ids=["string", "bool", "null"])
def test_verify_raises_invalid_token_when_iat_is_not_a_number(
    verifier: AccessTokenVerifier, clock: FakeClock, iat: object
) -> None:
    token = sign(valid_claims(clock, iat=iat))

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def lifetime_verifier(clock: FakeClock, **options: Any) -> AccessTokenVerifier:
    return AccessTokenVerifier(
        InMemoryKeys({KID: PRIVATE_KEY.public_key()}),
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway_seconds=LEEWAY_SECONDS,
        clock=clock,
        **options,
    )


def test_verify_raises_invalid_token_when_lifetime_exceeds_the_maximum(
    clock: FakeClock,
) -> None:
    verifier = lifetime_verifier(clock, max_lifetime_seconds=TTL_SECONDS - 1)
    token = sign(valid_claims(clock))  # exp - iat == TTL_SECONDS

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_accepts_token_when_lifetime_equals_the_maximum(clock: FakeClock) -> None:
    verifier = lifetime_verifier(clock, max_lifetime_seconds=TTL_SECONDS)
    token = sign(valid_claims(clock))

    assert verifier.verify(token).user_id == USER_ID


# --------------------------------------------------------------------------- revocation check


class RecordingCheck:
    """A RevocationCheck that answers as told and remembers what it was asked."""

    def __init__(self, *, revoked: bool) -> None:
        self.revoked = revoked
        self.asked: list[Principal] = []

    def is_revoked(self, principal: Principal) -> bool:
        self.asked.append(principal)
        return self.revoked


def test_verify_raises_invalid_token_when_the_revocation_check_says_revoked(
    clock: FakeClock,
) -> None:
    verifier = lifetime_verifier(clock, revocations=RecordingCheck(revoked=True))

    with pytest.raises(InvalidTokenError):
        verifier.verify(sign(valid_claims(clock)))


def test_verify_asks_the_revocation_check_about_the_verified_principal(
    clock: FakeClock,
) -> None:
    check = RecordingCheck(revoked=False)
    verifier = lifetime_verifier(clock, revocations=check)

    principal = verifier.verify(sign(valid_claims(clock)))

    assert check.asked == [principal]
    assert check.asked[0].issued_at == clock.now().replace(microsecond=0)


def test_verify_never_asks_the_revocation_check_when_the_token_is_invalid(
    clock: FakeClock,
) -> None:
    check = RecordingCheck(revoked=False)
    verifier = lifetime_verifier(clock, revocations=check)

    with pytest.raises(InvalidTokenError):
        verifier.verify(sign(valid_claims(clock, aud="other")))

    assert check.asked == []


# --------------------------------------------------------------------------- verified tokens


class ChangingKeys(InMemoryKeys):
    """InMemoryKeys whose keys the test can withdraw or replace."""

    def __init__(self, keys: dict[str, Any]) -> None:
        super().__init__(keys)
        self.keys = keys


def caching_verifier(
    clock: FakeClock, keys: InMemoryKeys | None = None, **options: Any
) -> AccessTokenVerifier:
    return AccessTokenVerifier(
        keys or InMemoryKeys({KID: PRIVATE_KEY.public_key()}),
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway_seconds=LEEWAY_SECONDS,
        clock=clock,
        cache_size=options.pop("cache_size", 8),
        **options,
    )


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token whose signature PyJWT checks, in order."""
    checked: list[str] = []
    real_decode = jwt.decode

    def decode(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", decode)
    return checked


def test_verify_checks_the_signature_once_when_the_same_token_repeats(
    clock: FakeClock, signature_checks: list[str]
) -> None:
    verifier = caching_verifier(clock)
    token = sign(valid_claims(clock))

    principals = [verifier.verify(token) for _ in range(3)]

    assert signature_checks == [token]
    assert principals[0] == principals[1] == principals[2]
    assert principals[2].user_id == USER_ID


def test_verify_checks_every_signature_when_the_cache_is_off(
    clock: FakeClock, signature_checks: list[str]
) -> None:
    verifier = caching_verifier(clock, cache_size=0)
    token = sign(valid_claims(clock))

    verifier.verify(token)
    verifier.verify(token)

    assert signature_checks == [token, token]


def test_verify_raises_invalid_token_when_a_remembered_token_has_expired(
    clock: FakeClock,
) -> None:
    verifier = caching_verifier(clock)
    token = sign(valid_claims(clock))
    verifier.verify(token)

    clock.advance(seconds=TTL_SECONDS + LEEWAY_SECONDS)

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize(
    "published_now",
    [None, OTHER_PRIVATE_KEY.public_key()],
    ids=["key withdrawn", "kid now names another key"],
)
def test_verify_raises_invalid_token_when_the_key_of_a_remembered_token_is_no_longer_published(
    clock: FakeClock, published_now: Any
) -> None:
    keys = ChangingKeys({KID: PRIVATE_KEY.public_key()})
    verifier = caching_verifier(clock, keys)
    token = sign(valid_claims(clock))
    verifier.verify(token)

    if published_now is None:
        del keys.keys[KID]
    else:
        keys.keys[KID] = published_now

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_verify_raises_invalid_token_when_a_remembered_token_was_revoked_since(
    clock: FakeClock,
) -> None:
    check = RecordingCheck(revoked=False)
    verifier = caching_verifier(clock, revocations=check)
    token = sign(valid_claims(clock))
    verifier.verify(token)

    check.revoked = True

    with pytest.raises(InvalidTokenError):
        verifier.verify(token)
    assert len(check.asked) == 2


def test_verify_raises_invalid_token_when_a_token_differs_from_a_remembered_one_by_its_signature(
    clock: FakeClock,
) -> None:
    cached = caching_verifier(clock)
    token = sign(valid_claims(clock))
    cached.verify(token)
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]

    with pytest.raises(InvalidTokenError):
        cached.verify(f"{head}.{payload}.{flipped}")


def test_verified_tokens_keep_at_most_their_size_dropping_the_oldest(
    clock: FakeClock, signature_checks: list[str]
) -> None:
    verifier = caching_verifier(clock, cache_size=2)
    first, second, third = (sign(valid_claims(clock, jti=f"token-{n}")) for n in range(3))
    for token in (first, second, third):
        verifier.verify(token)

    verifier.verify(third)
    verifier.verify(first)

    assert signature_checks == [first, second, third, first]


def test_verified_tokens_refuse_a_size_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        VerifiedTokens(0)
