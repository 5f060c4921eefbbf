"""Signing-key cryptography: generate ES256 keys, name them by JWK thumbprint, encrypt at rest."""

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from service_kit.security.jwt_verify import ACCESS_TOKEN_ALGORITHM


@dataclass(frozen=True, slots=True)
class PublicJwk:
    """A published verification key (RFC 7517 EC public JWK), as the JWKS lists it."""

    kty: str
    crv: str
    x: str
    y: str
    kid: str
    alg: str
    use: str

    @classmethod
    def from_mapping(cls, jwk: Mapping[str, Any]) -> "PublicJwk":
        """From the stored JSON object; members other than these are left out."""
        return cls(**{name: str(jwk[name]) for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    private_pem: bytes


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an EC public JWK: a stable, content-derived `kid`."""
    canonical = json.dumps(
        {name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def generate_es256_key() -> GeneratedKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    kid = jwk_thumbprint(jwk)
    jwk.update({"kid": kid, "alg": ACCESS_TOKEN_ALGORITHM, "use": "sig"})
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return GeneratedKey(kid=kid, algorithm=ACCESS_TOKEN_ALGORITHM, public_jwk=jwk, private_pem=pem)


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("signing keys are EC keys")
    return key


def load_public_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    key = ECAlgorithm.from_jwk(json.dumps(jwk))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TypeError("published keys are EC public keys")
    return key


class SecretBox:
    """Symmetric encryption at rest (MultiFernet): the first key encrypts, every key decrypts,
    so the encryption key itself can be rotated with `rotate()`."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @classmethod
    def from_setting(cls, value: str, *, fallback_secret: str) -> "SecretBox":
        """Keys from a comma-separated setting; outside production an empty setting derives one
        from the application secret so a fresh checkout runs without configuration."""
        keys = [key.strip() for key in value.split(",") if key.strip()]
        if not keys:
            # Production refuses an empty setting (see ServiceSettings), so this is dev-only.
            digest = hashlib.sha256(f"key-encryption:{fallback_secret}".encode()).digest()
            keys = [base64.urlsafe_b64encode(digest).decode()]
        return cls(keys)

    def encrypt(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, ciphertext: str) -> bytes | None:
        """The plaintext, or None when the ciphertext was not made with one of our keys."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            return None

    def rotate(self, ciphertext: str) -> str | None:
        """The same plaintext encrypted with the first key, or None when the ciphertext was not
        made with one of our keys."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            return None
