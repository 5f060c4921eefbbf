"""The process-wide cache of the key that signs and of the keys that verify access tokens."""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from identity.models import SigningKey
from identity.repositories.signing_key_repository import SigningKeyRepository
from identity.security.keys import SecretBox, load_private_key, load_public_jwk
from identity.security.signing import ActiveSigningKey

logger = logging.getLogger(__name__)

FirstKeyFactory = Callable[[Session], SigningKey]
"""Creates (and commits) the first active key of a fresh database on the session it is given;
the composition root binds it to the key service, with the app's clock."""


class KeyRing:
    """Caches the active signing key and the published verification keys.

    It opens its own short sessions, so it never joins a request's transaction. Entries live
    `ttl_seconds` on the `monotonic` clock: a rotation or retirement made elsewhere takes effect
    within that time; an unknown kid reloads the published keys at most every
    `miss_refresh_seconds`.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        box: SecretBox,
        first_key: FirstKeyFactory,
        ttl_seconds: float,
        keys: Callable[[Session], SigningKeyRepository] = SigningKeyRepository,
        miss_refresh_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._box = box
        self._first_key = first_key
        self._keys = keys
        self._ttl = ttl_seconds
        self._miss_refresh = miss_refresh_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._signing: ActiveSigningKey | None = None
        self._signing_loaded_at = float("-inf")
        self._public: dict[str, Any] = {}
        self._public_loaded_at = float("-inf")

    def active_signing_key(self) -> ActiveSigningKey:
        with self._lock:
            if self._signing is None or self._monotonic() - self._signing_loaded_at >= self._ttl:
                with self._session_factory() as session:
                    key = self._keys(session).find_active() or self._first_key(session)
                    pem = self._box.decrypt(key.private_key_ciphertext)
                if pem is None:
                    raise RuntimeError("the active signing key cannot be decrypted with our keys")
                self._signing = ActiveSigningKey(key.kid, key.algorithm, load_private_key(pem))
                self._signing_loaded_at = self._monotonic()
            return self._signing

    def warm_up(self) -> None:
        """At worker start: create the first signing key of a fresh database and cache it.
        A database that is not reachable yet only logs; the first request tries again."""
        try:
            self.active_signing_key()
        except SQLAlchemyError as exc:
            logger.warning("signing key not loaded at start", extra={"error": type(exc).__name__})

    def find_key(self, kid: str) -> Any | None:
        """The public key published under `kid`, or None."""
        with self._lock:
            age = self._monotonic() - self._public_loaded_at
            if age >= self._ttl or (kid not in self._public and age > self._miss_refresh):
                self._public = self._load_published()
                self._public_loaded_at = self._monotonic()
            return self._public.get(kid)

    def _load_published(self) -> dict[str, Any]:
        with self._session_factory() as session:
            keys = self._keys(session).list_published()
            return {key.kid: load_public_jwk(key.public_jwk) for key in keys}
