"""JwksClient with an injected fetcher and monotonic clock: caching, refetch limits, outages."""

import threading
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from service_kit.security.jwks_client import JwksClient, JwksUnavailableError

URL = "http://identity.test/.well-known/jwks.json"
TTL_SECONDS = 300.0
MIN_REFETCH_SECONDS = 10.0


class FakeMonotonic:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeIdentity:
    """A `JwksFetcher` serving a document the test controls, or failing like a dead server."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.document: dict[str, Any] = {"keys": list(keys)}
        self.error: Exception | None = None
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout_seconds: float) -> dict[str, Any]:
        self.calls.append((url, timeout_seconds))
        if self.error is not None:
            raise self.error
        return self.document

    def publish(self, *keys: dict[str, Any]) -> None:
        self.document = {"keys": list(keys)}


def public_jwk(kid: str, **extra: Any) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig", **extra}


def private_jwk(kid: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def identity() -> FakeIdentity:
    return FakeIdentity(public_jwk("key-1"))


@pytest.fixture
def client(identity: FakeIdentity, monotonic: FakeMonotonic) -> JwksClient:
    return JwksClient(
        URL,
        ttl_seconds=TTL_SECONDS,
        min_refetch_interval_seconds=MIN_REFETCH_SECONDS,
        timeout_seconds=1.5,
        fetcher=identity,
        monotonic=monotonic,
    )


def test_find_key_returns_public_key_when_kid_is_published(client: JwksClient) -> None:
    key = client.find_key("key-1")

    assert isinstance(key, ec.EllipticCurvePublicKey)


def test_find_key_fetches_the_configured_url_with_timeout_when_first_called(
    client: JwksClient, identity: FakeIdentity
) -> None:
    client.find_key("key-1")

    assert identity.calls == [(URL, 1.5)]


def test_find_key_does_not_fetch_when_kid_is_cached(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    first = client.find_key("key-1")
    monotonic.advance(TTL_SECONDS - 1)

    second = client.find_key("key-1")

    assert second is first
    assert len(identity.calls) == 1


def test_find_key_refetches_once_when_ttl_has_passed(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    monotonic.advance(TTL_SECONDS)

    client.find_key("key-1")
    client.find_key("key-1")

    assert len(identity.calls) == 2


def test_find_key_returns_none_when_published_key_was_removed_and_ttl_passed(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.publish(public_jwk("key-2"))
    monotonic.advance(TTL_SECONDS)

    key = client.find_key("key-1")

    assert key is None


def test_find_key_still_returns_removed_key_when_ttl_has_not_passed(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.publish(public_jwk("key-2"))
    monotonic.advance(TTL_SECONDS - 1)

    key = client.find_key("key-1")

    assert key is not None


def test_find_key_finds_new_kid_when_it_appears_after_refetch_interval(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.publish(public_jwk("key-1"), public_jwk("key-2"))
    monotonic.advance(MIN_REFETCH_SECONDS)

    key = client.find_key("key-2")

    assert key is not None
    assert len(identity.calls) == 2


def test_find_key_does_not_refetch_when_unknown_kid_arrives_within_refetch_interval(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.publish(public_jwk("key-1"), public_jwk("key-2"))
    monotonic.advance(MIN_REFETCH_SECONDS - 0.5)

    key = client.find_key("key-2")

    assert key is None
    assert len(identity.calls) == 1


def test_find_key_fetches_at_most_once_per_interval_when_unknown_kids_flood_in(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    monotonic.advance(MIN_REFETCH_SECONDS)

    for number in range(1000):
        client.find_key(f"forged-{number}")
        monotonic.advance(0.005)  # 1000 lookups in 5 s, inside one refetch interval

    assert len(identity.calls) == 2


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(requests.ConnectionError("refused"), id="connection-refused"),
        pytest.param(requests.Timeout("slow"), id="timeout"),
        pytest.param(requests.HTTPError("500 Server Error"), id="http-500"),
        pytest.param(ValueError("not a JWKS document"), id="not-a-jwks"),
    ],
)
def test_find_key_serves_cached_key_when_identity_fails_after_ttl(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic, error: Exception
) -> None:
    client.find_key("key-1")
    identity.error = error
    monotonic.advance(TTL_SECONDS * 10)

    key = client.find_key("key-1")

    assert key is not None


def test_find_key_retries_at_most_once_per_interval_when_identity_is_down_after_ttl(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.error = requests.ConnectionError("refused")
    monotonic.advance(TTL_SECONDS)

    for _ in range(100):
        client.find_key("key-1")
        monotonic.advance(0.01)

    assert len(identity.calls) == 2


def test_find_key_raises_jwks_unavailable_when_no_key_was_ever_loaded_and_identity_is_down(
    client: JwksClient, identity: FakeIdentity
) -> None:
    identity.error = requests.ConnectionError("refused")

    with pytest.raises(JwksUnavailableError):
        client.find_key("key-1")


def test_find_key_recovers_within_a_second_when_identity_comes_back_after_startup_failure(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    identity.error = requests.ConnectionError("refused")
    with pytest.raises(JwksUnavailableError):
        client.find_key("key-1")
    identity.error = None
    monotonic.advance(1.0)

    key = client.find_key("key-1")

    assert key is not None


def test_find_key_does_not_retry_within_a_second_when_no_key_was_ever_loaded(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    identity.error = requests.ConnectionError("refused")
    with pytest.raises(JwksUnavailableError):
        client.find_key("key-1")
    monotonic.advance(0.5)

    with pytest.raises(JwksUnavailableError):
        client.find_key("key-1")

    assert len(identity.calls) == 1


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"keys": []}, id="empty"),
        pytest.param({"keys": [private_jwk("key-1")]}, id="only-private-key"),
        pytest.param({"keys": [public_jwk("key-1", use="enc")]}, id="only-encryption-key"),
        pytest.param({"keys": ["not-an-object", {"kty": "EC"}]}, id="malformed-entries"),
    ],
)
def test_find_key_raises_jwks_unavailable_when_jwks_has_no_usable_key(
    client: JwksClient, identity: FakeIdentity, document: dict[str, Any]
) -> None:
    identity.document = document

    with pytest.raises(JwksUnavailableError):
        client.find_key("key-1")


def test_find_key_keeps_cached_keys_when_a_refetch_returns_no_usable_key(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.publish()
    monotonic.advance(TTL_SECONDS)

    key = client.find_key("key-1")

    assert key is not None


@pytest.mark.parametrize(
    "ignored",
    [
        pytest.param(private_jwk("ignored"), id="private-key-with-d"),
        pytest.param(public_jwk("ignored", use="enc"), id="use-enc"),
        pytest.param({**public_jwk("ignored"), "x": "not-base64-!!"}, id="broken-key-material"),
        pytest.param({"kid": "ignored", "kty": "EC", "crv": "P-256"}, id="missing-coordinates"),
    ],
)
def test_find_key_returns_none_when_kid_belongs_to_an_unusable_jwks_entry(
    client: JwksClient, identity: FakeIdentity, ignored: dict[str, Any]
) -> None:
    identity.publish(public_jwk("key-1"), ignored)

    key = client.find_key("ignored")

    assert key is None


def test_find_key_uses_key_when_jwk_has_no_use_member(
    client: JwksClient, identity: FakeIdentity
) -> None:
    jwk = public_jwk("key-2")
    del jwk["use"]
    identity.publish(jwk)

    key = client.find_key("key-2")

    assert key is not None


def test_find_key_skips_entry_without_string_kid_when_parsing_jwks(
    client: JwksClient, identity: FakeIdentity
) -> None:
    identity.publish(public_jwk("key-1"), {**public_jwk("x"), "kid": 7})

    key = client.find_key("7")

    assert key is None


def test_ensure_available_fetches_keys_when_none_are_cached(
    client: JwksClient, identity: FakeIdentity
) -> None:
    client.ensure_available()

    assert len(identity.calls) == 1


def test_ensure_available_does_not_fetch_when_keys_are_cached(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    monotonic.advance(TTL_SECONDS * 2)

    client.ensure_available()

    assert len(identity.calls) == 1


def test_ensure_available_passes_when_identity_is_down_but_keys_are_cached(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.error = requests.ConnectionError("refused")
    monotonic.advance(TTL_SECONDS * 2)

    client.ensure_available()  # no JwksUnavailableError


def test_ensure_available_raises_jwks_unavailable_when_no_keys_and_identity_is_down(
    client: JwksClient, identity: FakeIdentity
) -> None:
    identity.error = requests.ConnectionError("refused")

    with pytest.raises(JwksUnavailableError):
        client.ensure_available()


def test_jwks_unavailable_error_has_stable_code_when_raised() -> None:
    error = JwksUnavailableError()

    assert error.code == "jwks_unavailable"


def test_warm_up_lets_a_worker_verify_during_an_outage_when_it_ran_before_the_outage(
    client: JwksClient, identity: FakeIdentity
) -> None:
    client.warm_up()
    identity.error = requests.ConnectionError("identity is down")

    key = client.find_key("key-1")

    assert key is not None


def test_warm_up_does_not_raise_when_identity_is_unreachable(
    client: JwksClient, identity: FakeIdentity
) -> None:
    identity.error = requests.ConnectionError("identity is down")

    client.warm_up()

    assert len(identity.calls) == 1


class SlowIdentity(FakeIdentity):
    """Answers the first fetch at once, then holds every later fetch until released."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        super().__init__(*keys)
        self.release = threading.Event()
        self.fetching = threading.Event()

    def __call__(self, url: str, timeout_seconds: float) -> dict[str, Any]:
        if self.calls:
            self.fetching.set()
            self.release.wait(timeout=10)
        return super().__call__(url, timeout_seconds)


def test_find_key_serves_cached_keys_without_waiting_when_another_thread_is_fetching(
    monotonic: FakeMonotonic,
) -> None:
    identity = SlowIdentity(public_jwk("key-1"))
    client = JwksClient(
        URL, min_refetch_interval_seconds=MIN_REFETCH_SECONDS, fetcher=identity, monotonic=monotonic
    )
    client.find_key("key-1")
    monotonic.advance(MIN_REFETCH_SECONDS)
    fetcher = threading.Thread(target=client.find_key, args=("unknown-kid",))
    fetcher.start()
    assert identity.fetching.wait(timeout=5)
    found: list[Any] = []
    reader = threading.Thread(target=lambda: found.append(client.find_key("key-1")))

    reader.start()
    reader.join(timeout=2)
    finished_while_fetch_was_in_flight = not reader.is_alive()
    identity.release.set()
    reader.join(timeout=5)
    fetcher.join(timeout=5)

    assert finished_while_fetch_was_in_flight
    assert found != [None]
    assert len(found) == 1


# --------------------------------------------------------------------------- refresh


def test_refresh_loads_a_new_key_when_the_refetch_interval_has_not_passed(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.publish(public_jwk("key-1"), public_jwk("key-2"))
    client.find_key("key-0")  # an unknown kid used up this interval's refetch
    monotonic.advance(1)

    loaded = client.refresh()

    assert loaded is True
    assert client.find_key("key-2") is not None


def test_refresh_drops_a_key_that_left_the_jwks_when_the_ttl_has_not_passed(
    client: JwksClient, identity: FakeIdentity, monotonic: FakeMonotonic
) -> None:
    client.find_key("key-1")
    identity.publish(public_jwk("key-2"))
    monotonic.advance(1)

    client.refresh()

    assert client.find_key("key-1") is None


def test_refresh_reports_failure_and_keeps_the_cached_keys_when_identity_is_down(
    client: JwksClient, identity: FakeIdentity
) -> None:
    cached = client.find_key("key-1")
    identity.error = requests.ConnectionError("refused")

    loaded = client.refresh()

    assert loaded is False
    assert client.find_key("key-1") is cached
