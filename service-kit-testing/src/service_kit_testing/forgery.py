"""Forged JWTs for attack tests: the classic ways around a careless verifier, built by hand."""

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS segments are encoded."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def json_segment(value: Mapping[str, Any]) -> str:
    """A JWS header or payload segment holding `value`."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def public_key_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of `public_key`: the bytes a confused verifier HMACs with."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def alg_none(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """`claims` under `header` with `alg` set to "none", and no signature at all."""
    return f"{json_segment({**header, 'alg': 'none'})}.{json_segment(claims)}."


def hs256_keyed_with(pem: bytes, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """The key-confusion forgery: `claims` signed with HS256, the public key's PEM as secret."""
    signing_input = f"{json_segment({**header, 'alg': 'HS256'})}.{json_segment(claims)}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def with_payload(token: str, claims: Mapping[str, Any]) -> str:
    """`token`'s header and signature around other claims: a tampered payload."""
    header, _payload, signature = token.split(".")
    return f"{header}.{json_segment(claims)}.{signature}"
