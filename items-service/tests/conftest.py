"""Fixtures every items test may use: settings and a local token issuer."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from items.config import ItemsSettings
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer

# Database, connection, session and clock fixtures shared with every service's suite.
pytest_plugins = ["service_kit_testing.pytest_plugin"]

ISSUER = "http://identity.test"
AUDIENCE = "api"


def make_settings(**overrides: object) -> ItemsSettings:
    """Test settings: no .env file, no environment surprises.

    The revocation check is off unless a test turns it on: its view polls the database from a
    thread of its own, which sees only committed rows (not a rolled-back test's) and must be
    stopped by whoever starts it (see tests/integration/test_revocations.py).
    """
    values: dict[str, object] = {
        "env": "test",
        "database_url": "sqlite:///:memory:",
        "token_issuer": ISSUER,
        "token_audience": AUDIENCE,
        "jwks_url": "http://127.0.0.1:9/.well-known/jwks.json",
        "revocation_check": False,
    }
    values.update(overrides)
    return ItemsSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class TokenIssuer:
    """Signs access tokens like identity does, with keys made for the test run.

    It is also a `KeySource` (find_key), so an app can trust it without any JWKS server.
    """

    clock: FakeClock
    kid: str = "test-key-1"
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def find_key(self, kid: str) -> Any | None:
        return self.private_key.public_key() if kid == self.kid else None

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(
            self.private_key.public_key(), as_dict=True
        )
        return {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def token(
        self,
        *,
        user_id: uuid.UUID | None = None,
        role: str = "user",
        ttl_seconds: int = 900,
        now: datetime | None = None,
        **claim_overrides: Any,
    ) -> str:
        issued = now or self.clock.now()
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id or uuid.uuid4()),
            "iat": int(issued.timestamp()),
            "nbf": int(issued.timestamp()),
            "exp": int((issued + timedelta(seconds=ttl_seconds)).timestamp()),
            "jti": uuid.uuid4().hex,
            "sid": str(uuid.uuid4()),
            "role": role,
        }
        claims.update(claim_overrides)
        return jwt.encode(
            claims, self.private_key, algorithm="ES256", headers={"kid": self.kid, "typ": "at+jwt"}
        )

    def headers(self, user_id: uuid.UUID, *, role: str = "user") -> dict[str, str]:
        return bearer(self.token(user_id=user_id, role=role))


@pytest.fixture
def issuer(clock: FakeClock) -> TokenIssuer:
    return TokenIssuer(clock)
