"""A JWKS cache for resource servers: keys by `kid` with a TTL and a bounded refetch rate.

- Keys are cached per process for `ttl_seconds`; after that the next lookup refetches, so a key
  that left the JWKS stops verifying within the TTL.
- An unknown `kid` triggers a refetch at most once per `min_refetch_interval_seconds`, so a
  flood of forged kids cannot turn into a flood of requests to identity.
- When identity is unreachable the cached keys keep serving; only with no usable key at all
  does a lookup raise `JwksUnavailableError` (503 `jwks_unavailable`).
- `refresh()` fetches now, whatever the TTL and the refetch rate say: for a process told that
  the keys changed (a key rotated or retired), so it holds the new set before it meets a token
  of it, and keeps it through a later outage of identity.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

from service_kit.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

JwksFetcher = Callable[[str, float], dict[str, Any]]


class JwksUnavailableError(ServiceUnavailableError):
    code, title = "jwks_unavailable", "Token verification keys unavailable"
    default_detail = "The keys that verify access tokens cannot be loaded; try again shortly."
    retry_after_seconds = 10  # about the default interval between two JWKS refetches


def fetch_jwks(url: str, timeout_seconds: float) -> dict[str, Any]:
    """GET the JWKS document; raises on any network, status or JSON problem."""
    response = requests.get(url, timeout=timeout_seconds, headers={"Accept": "application/json"})
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    return document


class JwksClient:
    """Finds verification keys by `kid` (a `KeySource` for `AccessTokenVerifier`)."""

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 300,
        min_refetch_interval_seconds: float = 10,
        timeout_seconds: float = 2,
        fetcher: JwksFetcher = fetch_jwks,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl = ttl_seconds
        self._min_interval = min_refetch_interval_seconds
        self._timeout = timeout_seconds
        self._fetch = fetcher
        self._monotonic = monotonic
        self._lock = threading.Lock()  # guards the fields below; never held over the network
        self._fetch_lock = threading.Lock()  # one fetch at a time
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self.fetch_count = 0

    def find_key(self, kid: str) -> Any | None:
        """The key published under `kid`, or None when identity does not publish it.

        Raises:
            JwksUnavailableError: no key has ever been loaded and identity cannot be reached.
        """
        now = self._monotonic()
        with self._lock:
            stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
            unknown = kid not in self._keys
            claimed = (stale or unknown) and self._claim_attempt(
                now, urgent=self._fetched_at is None
            )
        if claimed:
            self._fetch_and_store(now)
        elif not self._keys:
            with self._fetch_lock:  # another thread is fetching the first keys: wait for it
                pass
        keys = self._keys
        if not keys:
            raise JwksUnavailableError()
        return keys.get(kid)

    def ensure_available(self) -> None:
        """Readiness check: raise unless at least one key is cached or can be fetched."""
        now = self._monotonic()
        with self._lock:
            claimed = not self._keys and self._claim_attempt(now, urgent=True)
        if claimed:
            self._fetch_and_store(now)
        if not self._keys:
            raise JwksUnavailableError()

    def warm_up(self) -> None:
        """Load the keys once at worker start, so a worker can verify tokens even if identity
        is down later, before it ever saw a request. Failure only logs; lookups retry."""
        now = self._monotonic()
        with self._lock:
            claimed = not self._keys and self._claim_attempt(now, urgent=True, force=True)
        if claimed:
            self._fetch_and_store(now)

    def refresh(self) -> bool:
        """Fetch the JWKS now (the keys changed); whether it was loaded. On failure the cached
        keys stay and the caller may try again."""
        now = self._monotonic()
        with self._lock:
            self._attempted_at = now
        return self._fetch_and_store(now)

    def _claim_attempt(self, now: float, *, urgent: bool, force: bool = False) -> bool:
        """Under `_lock`: whether this thread may fetch now; if so the attempt is recorded, so
        concurrent callers keep serving cached keys instead of fetching too."""
        if not force and self._attempted_at is not None:
            # With no keys at all, retry sooner (every second) so recovery is quick.
            interval = min(self._min_interval, 1.0) if urgent else self._min_interval
            if now - self._attempted_at < interval:
                return False
        self._attempted_at = now
        return True

    def _fetch_and_store(self, now: float) -> bool:
        # The network call runs outside `_lock`: a slow identity delays only the thread that
        # fetches (and threads that have no key at all), never lookups served from the cache.
        with self._fetch_lock:
            self.fetch_count += 1
            try:
                document = self._fetch(self._url, self._timeout)
            except (requests.RequestException, ValueError) as exc:
                logger.warning(
                    "JWKS fetch failed; serving cached keys",
                    extra={
                        "url": self._url,
                        "error": type(exc).__name__,
                        "cached": len(self._keys),
                    },
                )
                return False
            keys = _parse_keys(document)
            if not keys:
                logger.warning("JWKS had no usable keys", extra={"url": self._url})
                return False
            with self._lock:
                self._keys = keys
                self._fetched_at = now
            return True


def _parse_keys(document: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for jwk in document.get("keys", []):
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("use", "sig") != "sig" or "d" in jwk:
            continue  # never trust a private or an encryption key for verification
        try:
            keys[jwk["kid"]] = jwt.PyJWK(jwk).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            logger.warning("JWKS key skipped", extra={"kid": jwk.get("kid")})
    return keys
