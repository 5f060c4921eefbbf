"""Access-token signing (RFC 9068 `at+jwt`)."""

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import jwt

from service_kit.security.jwt_verify import ACCESS_TOKEN_TYPE


@dataclass(frozen=True, slots=True)
class ActiveSigningKey:
    kid: str
    algorithm: str
    private_key: Any


class SigningKeyProvider(Protocol):
    """Hands out the key that signs new tokens."""

    def active_signing_key(self) -> ActiveSigningKey: ...


@dataclass(frozen=True, slots=True)
class AccessTokenPolicy:
    issuer: str
    audience: str
    ttl_seconds: int


class AccessTokenIssuer:
    """Signs access tokens with the active key."""

    def __init__(self, keys: SigningKeyProvider, policy: AccessTokenPolicy) -> None:
        self._keys = keys
        self._policy = policy

    @property
    def ttl_seconds(self) -> int:
        return self._policy.ttl_seconds

    def issue(
        self,
        *,
        subject: uuid.UUID,
        role: str,
        session_id: uuid.UUID,
        auth_time: datetime,
        now: datetime,
        not_before: datetime | None = None,
        email_verified: bool = False,
    ) -> str:
        """A signed access token; `auth_time` is when the user last entered their password,
        `email_verified` whether the account's address was verified when it was issued.

        `not_before` is the user's revocation bound (`User.tokens_not_before`): tokens with an
        `iat` below it are void, so this one is issued with `iat = nbf = max(now floored to the
        second, not_before)`. That is at most a second ahead of `now`, within every verifier's
        leeway, and makes a token issued right after a revocation valid.
        """
        key = self._keys.active_signing_key()
        issued_at = int(now.timestamp())
        if not_before is not None:
            issued_at = max(issued_at, math.ceil(not_before.timestamp()))
        claims = {
            "iss": self._policy.issuer,
            "aud": self._policy.audience,
            "sub": str(subject),
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self._policy.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "sid": str(session_id),
            "role": role,
            "auth_time": int(auth_time.timestamp()),
            "email_verified": email_verified,
        }
        return jwt.encode(
            claims,
            key.private_key,
            algorithm=key.algorithm,
            headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE},
        )
