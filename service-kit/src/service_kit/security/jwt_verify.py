"""Verify RFC 9068 access tokens: pinned algorithms, `typ` at+jwt, iss/aud/exp/nbf/iat required."""

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import jwt

from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.errors import InvalidTokenError

logger = logging.getLogger(__name__)

ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a media type, not a secret
ACCESS_TOKEN_ALGORITHM: Final = "ES256"  # noqa: S105 - an algorithm name, not a secret
"""What identity signs access tokens with (and publishes as each key's `alg`); the one place
that names it."""
DEFAULT_ALGORITHMS: Final = (ACCESS_TOKEN_ALGORITHM,)
REQUIRED_CLAIMS: Final = ("iss", "aud", "sub", "exp", "nbf", "iat", "jti", "sid", "role")


class KeySource(Protocol):
    """Finds the public key for a `kid`, or None when no trusted key has that id."""

    def find_key(self, kid: str) -> Any | None: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as the access token describes them."""

    user_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    token_id: str
    auth_time: datetime | None = None
    """When the user last entered their password (the `auth_time` claim); None if absent."""
    issued_at: datetime | None = field(default=None, compare=False)
    """When the token was issued (the `iat` claim, whole seconds). Not part of equality: the
    token id already names the token, and with it this instant."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class RevocationCheck(Protocol):
    """Says whether a token that verified was revoked since it was issued (by session or by a
    "tokens before this instant are void" mark of its user).

    It answers from memory: the request path makes no round trip for it. It may raise a
    `ServiceUnavailableError` when it cannot vouch for its answer (503, never 401).
    """

    def is_revoked(self, principal: Principal) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token that verified: who it names, the key that verified it, when it expires."""

    principal: Principal
    kid: str
    key: Any
    expires_at: float


class VerifiedTokens:
    """A bounded memory of tokens that verified, keyed by the whole token: a client repeats its
    token on every request until it expires, and a repeat then skips the signature check and the
    claim parsing (the dearest part of a request). When full, the oldest entry makes room.

    An entry only says the signature and the fixed claims (iss, aud, typ, alg, nbf, lifetime)
    were good; the verifier still checks the expiry, that the key source still trusts the key
    (a key withdrawn from the JWKS voids its tokens at once) and the revocations on every use.
    """

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._entries: dict[str, _Verified] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> _Verified | None:
        return self._entries.get(token)

    def put(self, token: str, verified: _Verified) -> None:
        with self._lock:
            while len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[token] = verified

    def discard(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token, None)


class AccessTokenVerifier:
    """Turns a bearer token into a `Principal` or raises `InvalidTokenError`, nothing else."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway_seconds: int = 30,
        extra_required_claims: Sequence[str] = (),
        clock: Clock = SYSTEM_CLOCK,
        revocations: RevocationCheck | None = None,
        max_lifetime_seconds: int | None = None,
        cache_size: int = 0,
    ) -> None:
        """`extra_required_claims`: claims this verifier needs on top of `REQUIRED_CLAIMS`
        (identity requires `auth_time`; a resource server that never asks may leave it).

        `revocations`: consulted for every token that verified; a revoked one is refused like
        any bad token. `max_lifetime_seconds`: tokens claiming a longer life (`exp - iat`) are
        refused, so a revocation that is remembered that long cannot be outlived.
        `cache_size`: how many verified tokens to remember (see `VerifiedTokens`); 0: none."""
        if not algorithms or any(alg.upper().startswith(("HS", "NONE")) for alg in algorithms):
            raise ValueError("access tokens are verified with asymmetric algorithms only")
        self._required = list(dict.fromkeys([*REQUIRED_CLAIMS, *extra_required_claims]))
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)
        self._leeway = leeway_seconds
        self._clock = clock
        self._revocations = revocations
        self._max_lifetime = max_lifetime_seconds
        self._verified = VerifiedTokens(cache_size) if cache_size else None

    def verify(self, token: str) -> Principal:
        """Raises:
        InvalidTokenError: for any reason the token is not a valid access token for us.
        """
        verified = self._verified.get(token) if self._verified is not None else None
        if verified is None or not self._still_valid(verified, token):
            verified = self._verify_signed(token)
            if self._verified is not None:
                self._verified.put(token, verified)
        principal = verified.principal
        if self._revocations is not None and self._revocations.is_revoked(principal):
            logger.info("access token rejected", extra={"reason": "revoked"})
            raise InvalidTokenError()
        return principal

    def _still_valid(self, verified: _Verified, token: str) -> bool:
        """A remembered token may be used while its key is still trusted and it has not
        expired; an expired one is forgotten (and then refused by the full check)."""
        if self._clock.now().timestamp() >= verified.expires_at + self._leeway:
            if self._verified is not None:
                self._verified.discard(token)
            return False
        return self._keys.find_key(verified.kid) is verified.key

    def _verify_signed(self, token: str) -> _Verified:
        try:
            header = jwt.get_unverified_header(token)
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in (
                ACCESS_TOKEN_TYPE,
                "application/at+jwt",
            ):
                raise InvalidTokenError()
            if header.get("alg") not in self._algorithms:
                raise InvalidTokenError()
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise InvalidTokenError()
            key = self._keys.find_key(kid)
            if key is None:
                raise InvalidTokenError()
            claims = self._decode(token, key)
            principal = Principal(
                user_id=uuid.UUID(str(claims["sub"])),
                role=str(claims["role"]),
                session_id=uuid.UUID(str(claims["sid"])),
                token_id=str(claims["jti"]),
                auth_time=self._auth_time(claims),
                issued_at=_instant(claims["iat"]),
            )
        except InvalidTokenError:
            raise
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            logger.info("access token rejected", extra={"reason": type(exc).__name__})
            raise InvalidTokenError() from None
        return _Verified(principal, kid, key, _seconds(claims["exp"]))

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        # PyJWT checks exp/nbf/iat against its own clock; we check them against ours instead,
        # so tests can move time and the leeway is applied in one place.
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=self._algorithms,
            audience=self._audience,
            issuer=self._issuer,
            options={
                "require": self._required,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        now = self._clock.now().timestamp()
        exp, nbf, iat = (_seconds(claims[name]) for name in ("exp", "nbf", "iat"))
        if now >= exp + self._leeway or now < nbf - self._leeway or now < iat - self._leeway:
            raise InvalidTokenError()
        if self._max_lifetime is not None and exp - iat > self._max_lifetime:
            raise InvalidTokenError()
        return claims

    def _auth_time(self, claims: dict[str, Any]) -> datetime | None:
        """The `auth_time` claim (seconds since the epoch, OpenID Connect) as a UTC instant.

        A login that happened after the token was issued is not a login; such a token is bad.
        """
        value = claims.get("auth_time")
        if value is None:
            return None
        seconds = _seconds(value)
        if seconds > _seconds(claims["iat"]) + self._leeway:
            raise InvalidTokenError()
        return _instant(seconds)


def _seconds(value: Any) -> float:
    """A NumericDate claim as seconds since the epoch (never a bool, a string or NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidTokenError()
    return float(value)


def _instant(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(_seconds(value), UTC)
    except (OverflowError, OSError, ValueError):  # out of range
        raise InvalidTokenError() from None
