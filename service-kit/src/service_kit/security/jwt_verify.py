"""Verify RFC 9068 access tokens: pinned algorithms, `typ` at+jwt, iss/aud/exp/nbf/iat required."""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import jwt

from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.errors import InvalidTokenError

logger = logging.getLogger(__name__)

ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a media type, not a secret
DEFAULT_ALGORITHMS: Final = ("ES256",)
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

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


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
    ) -> None:
        """`extra_required_claims`: claims this verifier needs on top of `REQUIRED_CLAIMS`
        (identity requires `auth_time`; a resource server that never asks may leave it)."""
        if not algorithms or any(alg.upper().startswith(("HS", "NONE")) for alg in algorithms):
            raise ValueError("access tokens are verified with asymmetric algorithms only")
        self._required = list(dict.fromkeys([*REQUIRED_CLAIMS, *extra_required_claims]))
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)
        self._leeway = leeway_seconds
        self._clock = clock

    def verify(self, token: str) -> Principal:
        """Raises:
        InvalidTokenError: for any reason the token is not a valid access token for us.
        """
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
            key = self._keys.find_key(kid) if isinstance(kid, str) and kid else None
            if key is None:
                raise InvalidTokenError()
            claims = self._decode(token, key)
            return Principal(
                user_id=uuid.UUID(str(claims["sub"])),
                role=str(claims["role"]),
                session_id=uuid.UUID(str(claims["sid"])),
                token_id=str(claims["jti"]),
                auth_time=self._auth_time(claims),
            )
        except InvalidTokenError:
            raise
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            logger.info("access token rejected", extra={"reason": type(exc).__name__})
            raise InvalidTokenError() from None

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
        exp, nbf, iat = (float(claims[name]) for name in ("exp", "nbf", "iat"))
        if now >= exp + self._leeway or now < nbf - self._leeway or now < iat - self._leeway:
            raise InvalidTokenError()
        return claims

    def _auth_time(self, claims: dict[str, Any]) -> datetime | None:
        """The `auth_time` claim (seconds since the epoch, OpenID Connect) as a UTC instant.

        A login that happened after the token was issued is not a login; such a token is bad.
        """
        value = claims.get("auth_time")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidTokenError()
        if value > float(claims["iat"]) + self._leeway:
            raise InvalidTokenError()
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):  # out of range, NaN
            raise InvalidTokenError() from None
