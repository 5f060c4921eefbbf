"""Refresh-token material: 256 random bits, stored only as a SHA-256 hex digest."""

import base64
import re

import pytest

from identity.security.tokens import hash_refresh_token, new_refresh_token

URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_new_refresh_token_is_43_urlsafe_characters_when_generated() -> None:
    token = new_refresh_token()

    assert len(token) == 43  # token_urlsafe(32): 32 bytes, unpadded base64url
    assert URLSAFE.fullmatch(token)


def test_new_refresh_token_carries_256_bits_when_decoded() -> None:
    token = new_refresh_token()

    raw = base64.urlsafe_b64decode(token + "=")

    assert len(raw) * 8 == 256


def test_new_refresh_token_differs_when_generated_repeatedly() -> None:
    tokens = {new_refresh_token() for _ in range(100)}

    assert len(tokens) == 100


@pytest.mark.parametrize(
    ("raw", "digest"),
    [
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ],
)
def test_hash_refresh_token_is_sha256_hex_when_hashing(raw: str, digest: str) -> None:
    hashed = hash_refresh_token(raw)

    assert hashed == digest


def test_hash_refresh_token_differs_when_tokens_differ() -> None:
    first, second = new_refresh_token(), new_refresh_token()

    assert hash_refresh_token(first) != hash_refresh_token(second)
