"""JwksClient against a real local HTTP server: caching, rotation, floods and identity outages."""

import json
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from service_kit.errors import InvalidTokenError
from service_kit.security.jwks_client import JwksClient, JwksUnavailableError, fetch_jwks
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock

TTL_SECONDS = 300.0
MIN_REFETCH_SECONDS = 10.0
ISSUER = "http://identity.test"
AUDIENCE = "api"
JWKS_PATH = "/.well-known/jwks.json"


@dataclass
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(
            self.private_key.public_key(), as_dict=True
        )
        return {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig", **extra}

    def private_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(self.private_key, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def access_token(self, clock: FakeClock) -> str:
        now = clock.now()
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=15)).timestamp()),
            "jti": uuid.uuid4().hex,
            "sid": str(uuid.uuid4()),
            "role": "user",
        }
        return jwt.encode(
            claims, self.private_key, algorithm="ES256", headers={"kid": self.kid, "typ": "at+jwt"}
        )


class _IdentityHTTPServer(ThreadingHTTPServer):
    """Serves `document` (or fails with `status`) at the JWKS path and counts GETs."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _JwksHandler)
        self.lock = threading.Lock()
        self.document: Any = {"keys": []}
        self.status = 200
        self.requests = 0


class _JwksHandler(BaseHTTPRequestHandler):
    server: _IdentityHTTPServer

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests += 1
            status, document = self.server.status, self.server.document
        if self.path != JWKS_PATH:
            status, document = 404, {"error": "not found"}
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


class IdentityServer:
    """A JWKS endpoint on 127.0.0.1 in a background thread; `stop()` makes it unreachable."""

    def __init__(self) -> None:
        self._server = _IdentityHTTPServer()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}{JWKS_PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        self._running = True

    @property
    def requests(self) -> int:
        with self._server.lock:
            return self._server.requests

    def publish(self, *jwks: dict[str, Any]) -> None:
        self.serve({"keys": list(jwks)})

    def serve(self, document: Any, *, status: int = 200) -> None:
        with self._server.lock:
            self._server.document = document
            self._server.status = status

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()


class FakeMonotonic:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def identity() -> Iterator[IdentityServer]:
    server = IdentityServer()
    yield server
    server.stop()


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def old_key() -> SigningKey:
    return SigningKey("key-old")


@pytest.fixture
def new_key() -> SigningKey:
    return SigningKey("key-new")


@pytest.fixture
def jwks(identity: IdentityServer, monotonic: FakeMonotonic) -> JwksClient:
    return JwksClient(
        identity.url,
        ttl_seconds=TTL_SECONDS,
        min_refetch_interval_seconds=MIN_REFETCH_SECONDS,
        timeout_seconds=2,
        monotonic=monotonic,
    )


@pytest.fixture
def verifier(jwks: JwksClient, clock: FakeClock) -> AccessTokenVerifier:
    return AccessTokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, clock=clock)


def test_fetch_jwks_returns_document_when_server_answers_a_jwks(
    identity: IdentityServer, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())

    document = fetch_jwks(identity.url, 2)

    assert document == {"keys": [old_key.public_jwk()]}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([], id="json-array"),
        pytest.param({"keys": "nope"}, id="keys-not-a-list"),
        pytest.param({"other": []}, id="no-keys-member"),
    ],
)
def test_fetch_jwks_raises_value_error_when_document_is_not_a_jwks(
    identity: IdentityServer, document: Any
) -> None:
    identity.serve(document)

    with pytest.raises(ValueError, match="not a JWKS document"):
        fetch_jwks(identity.url, 2)


def test_verify_accepts_token_when_its_key_is_published(
    identity: IdentityServer, verifier: AccessTokenVerifier, old_key: SigningKey, clock: FakeClock
) -> None:
    identity.publish(old_key.public_jwk())

    principal = verifier.verify(old_key.access_token(clock))

    assert principal.role == "user"


def test_find_key_makes_no_request_when_kid_is_cached(
    identity: IdentityServer, jwks: JwksClient, monotonic: FakeMonotonic, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())
    jwks.find_key(old_key.kid)
    monotonic.advance(TTL_SECONDS - 1)

    key = jwks.find_key(old_key.kid)

    assert key is not None
    assert identity.requests == 1


def test_verify_accepts_rotated_key_after_exactly_one_refetch_when_new_kid_is_published(
    identity: IdentityServer,
    verifier: AccessTokenVerifier,
    monotonic: FakeMonotonic,
    clock: FakeClock,
    old_key: SigningKey,
    new_key: SigningKey,
) -> None:
    identity.publish(old_key.public_jwk())
    verifier.verify(old_key.access_token(clock))
    identity.publish(new_key.public_jwk(), old_key.public_jwk())
    monotonic.advance(MIN_REFETCH_SECONDS)

    principal = verifier.verify(new_key.access_token(clock))

    assert principal.role == "user"
    assert identity.requests == 2


def test_verify_still_accepts_old_key_without_request_when_rotation_kept_it_published(
    identity: IdentityServer,
    verifier: AccessTokenVerifier,
    monotonic: FakeMonotonic,
    clock: FakeClock,
    old_key: SigningKey,
    new_key: SigningKey,
) -> None:
    identity.publish(old_key.public_jwk())
    verifier.verify(old_key.access_token(clock))
    identity.publish(new_key.public_jwk(), old_key.public_jwk())
    monotonic.advance(MIN_REFETCH_SECONDS)
    verifier.verify(new_key.access_token(clock))

    principal = verifier.verify(old_key.access_token(clock))

    assert principal.role == "user"
    assert identity.requests == 2


def test_find_key_makes_at_most_one_extra_request_when_random_kids_flood_in(
    identity: IdentityServer, jwks: JwksClient, monotonic: FakeMonotonic, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())
    jwks.find_key(old_key.kid)
    monotonic.advance(MIN_REFETCH_SECONDS)

    found = []
    for _ in range(1000):
        found.append(jwks.find_key(secrets.token_urlsafe(8)))
        monotonic.advance(MIN_REFETCH_SECONDS / 2000)  # all 1000 within half an interval

    assert identity.requests <= 2
    assert not any(found)


def test_verify_rejects_token_without_request_when_unknown_kids_flood_within_interval(
    identity: IdentityServer,
    verifier: AccessTokenVerifier,
    monotonic: FakeMonotonic,
    clock: FakeClock,
    old_key: SigningKey,
) -> None:
    identity.publish(old_key.public_jwk())
    verifier.verify(old_key.access_token(clock))

    for _ in range(1000):
        with pytest.raises(InvalidTokenError):
            verifier.verify(SigningKey(secrets.token_hex(4)).access_token(clock))
        monotonic.advance(0.001)

    assert identity.requests == 1


def test_find_key_serves_cached_key_when_identity_server_is_stopped_after_ttl(
    identity: IdentityServer, jwks: JwksClient, monotonic: FakeMonotonic, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())
    jwks.find_key(old_key.kid)
    identity.stop()
    monotonic.advance(TTL_SECONDS * 3)

    key = jwks.find_key(old_key.kid)

    assert key is not None


def test_find_key_serves_cached_key_when_identity_answers_500_after_ttl(
    identity: IdentityServer, jwks: JwksClient, monotonic: FakeMonotonic, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())
    jwks.find_key(old_key.kid)
    identity.serve({"error": "boom"}, status=500)
    monotonic.advance(TTL_SECONDS * 3)

    key = jwks.find_key(old_key.kid)

    assert key is not None
    assert identity.requests == 2


def test_verify_accepts_cached_key_when_identity_answers_500_for_every_refetch(
    identity: IdentityServer,
    verifier: AccessTokenVerifier,
    monotonic: FakeMonotonic,
    clock: FakeClock,
    old_key: SigningKey,
) -> None:
    identity.publish(old_key.public_jwk())
    verifier.verify(old_key.access_token(clock))
    identity.serve({"error": "boom"}, status=500)

    for _ in range(5):
        monotonic.advance(TTL_SECONDS)
        verifier.verify(old_key.access_token(clock))

    assert identity.requests == 6


def test_find_key_raises_jwks_unavailable_when_no_keys_and_identity_server_is_stopped(
    identity: IdentityServer, jwks: JwksClient, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())
    identity.stop()

    with pytest.raises(JwksUnavailableError):
        jwks.find_key(old_key.kid)


def test_find_key_raises_jwks_unavailable_when_no_keys_and_identity_answers_500(
    identity: IdentityServer, jwks: JwksClient
) -> None:
    identity.serve({"error": "boom"}, status=500)

    with pytest.raises(JwksUnavailableError):
        jwks.find_key("key-old")


def test_find_key_raises_jwks_unavailable_when_url_path_answers_404(
    identity: IdentityServer, monotonic: FakeMonotonic, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())
    wrong_path = JwksClient(identity.url.replace(JWKS_PATH, "/jwks"), monotonic=monotonic)

    with pytest.raises(JwksUnavailableError):
        wrong_path.find_key(old_key.kid)


def test_find_key_returns_none_when_key_was_removed_from_jwks_and_ttl_passed(
    identity: IdentityServer,
    jwks: JwksClient,
    monotonic: FakeMonotonic,
    old_key: SigningKey,
    new_key: SigningKey,
) -> None:
    identity.publish(new_key.public_jwk(), old_key.public_jwk())
    jwks.find_key(old_key.kid)
    identity.publish(new_key.public_jwk())
    monotonic.advance(TTL_SECONDS)

    key = jwks.find_key(old_key.kid)

    assert key is None


def test_find_key_still_returns_removed_key_when_ttl_has_not_passed(
    identity: IdentityServer,
    jwks: JwksClient,
    monotonic: FakeMonotonic,
    old_key: SigningKey,
    new_key: SigningKey,
) -> None:
    identity.publish(new_key.public_jwk(), old_key.public_jwk())
    jwks.find_key(old_key.kid)
    identity.publish(new_key.public_jwk())
    monotonic.advance(TTL_SECONDS - 1)

    key = jwks.find_key(old_key.kid)

    assert key is not None


def test_verify_rejects_token_when_its_key_was_retired_and_ttl_passed(
    identity: IdentityServer,
    verifier: AccessTokenVerifier,
    monotonic: FakeMonotonic,
    clock: FakeClock,
    old_key: SigningKey,
    new_key: SigningKey,
) -> None:
    identity.publish(new_key.public_jwk(), old_key.public_jwk())
    verifier.verify(old_key.access_token(clock))
    identity.publish(new_key.public_jwk())
    monotonic.advance(TTL_SECONDS)

    with pytest.raises(InvalidTokenError):
        verifier.verify(old_key.access_token(clock))


def _as_private_key(key: SigningKey) -> dict[str, Any]:
    return key.private_jwk()


def _as_encryption_key(key: SigningKey) -> dict[str, Any]:
    return key.public_jwk(use="enc")


# JWKS entries a verifier must never take a verification key from.
UNUSABLE_JWKS = [
    pytest.param(_as_private_key, id="private-key-with-d"),
    pytest.param(_as_encryption_key, id="use-enc"),
]


@pytest.mark.parametrize("unusable", UNUSABLE_JWKS)
def test_verify_rejects_token_when_its_kid_is_published_only_as_an_unusable_key(
    identity: IdentityServer,
    verifier: AccessTokenVerifier,
    clock: FakeClock,
    old_key: SigningKey,
    new_key: SigningKey,
    unusable: Callable[[SigningKey], dict[str, Any]],
) -> None:
    identity.publish(old_key.public_jwk(), unusable(new_key))

    with pytest.raises(InvalidTokenError):
        verifier.verify(new_key.access_token(clock))


@pytest.mark.parametrize("unusable", UNUSABLE_JWKS)
def test_find_key_raises_jwks_unavailable_when_jwks_holds_only_unusable_keys(
    identity: IdentityServer,
    jwks: JwksClient,
    old_key: SigningKey,
    unusable: Callable[[SigningKey], dict[str, Any]],
) -> None:
    identity.publish(unusable(old_key))

    with pytest.raises(JwksUnavailableError):
        jwks.find_key(old_key.kid)


def test_ensure_available_fetches_keys_when_identity_is_up(
    identity: IdentityServer, jwks: JwksClient, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())

    jwks.ensure_available()

    assert identity.requests == 1


def test_ensure_available_passes_when_identity_is_stopped_but_keys_are_cached(
    identity: IdentityServer, jwks: JwksClient, monotonic: FakeMonotonic, old_key: SigningKey
) -> None:
    identity.publish(old_key.public_jwk())
    jwks.find_key(old_key.kid)
    identity.stop()
    monotonic.advance(TTL_SECONDS * 2)

    jwks.ensure_available()  # no JwksUnavailableError


def test_ensure_available_raises_jwks_unavailable_when_no_keys_and_identity_is_stopped(
    identity: IdentityServer, jwks: JwksClient
) -> None:
    identity.stop()

    with pytest.raises(JwksUnavailableError):
        jwks.ensure_available()


def test_ensure_available_passes_when_identity_recovers_after_startup_outage(
    identity: IdentityServer, jwks: JwksClient, monotonic: FakeMonotonic, old_key: SigningKey
) -> None:
    identity.serve({"error": "starting"}, status=503)
    with pytest.raises(JwksUnavailableError):
        jwks.ensure_available()
    identity.publish(old_key.public_jwk())
    monotonic.advance(1.0)

    jwks.ensure_available()  # no JwksUnavailableError

    assert jwks.find_key(old_key.kid) is not None
