"""Signing-key helpers: RFC 7638 thumbprints, ES256 key generation and encryption at rest."""

import typing
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from jwt.algorithms import ECAlgorithm

from identity.config import IdentitySettings
from identity.security.keys import (
    PublicJwk,
    SecretBox,
    generate_es256_key,
    jwk_thumbprint,
    load_private_key,
    load_public_jwk,
)
from service_kit.security.jwt_verify import ACCESS_TOKEN_ALGORITHM, DEFAULT_ALGORITHMS

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def _public_jwk() -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key, as_dict=True)
    return jwk


def test_jwk_thumbprint_matches_an_independent_rfc7638_implementation_when_key_is_ec() -> None:
    jwk = _public_jwk()

    thumbprint = jwk_thumbprint(jwk)

    assert thumbprint == ECKey.import_key(jwk).thumbprint()


def test_jwk_thumbprint_is_stable_when_computed_twice() -> None:
    jwk = _public_jwk()

    first, second = jwk_thumbprint(jwk), jwk_thumbprint(dict(jwk))

    assert first == second


def test_jwk_thumbprint_ignores_optional_members_when_they_are_added() -> None:
    jwk = _public_jwk()

    decorated = jwk_thumbprint({**jwk, "kid": "some-kid", "alg": "ES256", "use": "sig"})

    assert decorated == jwk_thumbprint(jwk)


def test_jwk_thumbprint_changes_when_the_key_changes() -> None:
    first, second = _public_jwk(), _public_jwk()

    assert jwk_thumbprint(first) != jwk_thumbprint(second)


def test_jwk_thumbprint_is_unpadded_base64url_of_sha256_when_computed() -> None:
    thumbprint = jwk_thumbprint(_public_jwk())

    assert len(thumbprint) == 43
    assert set(thumbprint) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_generate_es256_key_publishes_no_private_members_when_generated() -> None:
    generated = generate_es256_key()

    assert PRIVATE_JWK_MEMBERS.isdisjoint(generated.public_jwk)


def test_generate_es256_key_names_the_key_by_its_thumbprint_when_generated() -> None:
    generated = generate_es256_key()

    assert generated.kid == generated.public_jwk["kid"] == jwk_thumbprint(generated.public_jwk)


def test_generate_es256_key_describes_a_p256_signing_key_when_generated() -> None:
    generated = generate_es256_key()

    assert {name: generated.public_jwk[name] for name in ("kty", "crv", "alg", "use")} == {
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "use": "sig",
    }


def test_generate_es256_key_pairs_the_private_pem_with_the_published_key_when_generated() -> None:
    generated = generate_es256_key()

    private_key = load_private_key(generated.private_pem)

    assert private_key.public_key() == load_public_jwk(generated.public_jwk)


def test_generate_es256_key_makes_a_new_key_when_called_again() -> None:
    first, second = generate_es256_key(), generate_es256_key()

    assert first.kid != second.kid


def test_secret_box_decrypt_returns_the_plaintext_when_ciphertext_is_ours() -> None:
    box = SecretBox([Fernet.generate_key().decode()])

    plaintext = box.decrypt(box.encrypt(b"private key bytes"))

    assert plaintext == b"private key bytes"


def test_secret_box_encrypt_hides_the_plaintext_when_encrypting() -> None:
    box = SecretBox([Fernet.generate_key().decode()])

    ciphertext = box.encrypt(b"private key bytes")

    assert b"private key bytes" not in ciphertext.encode()


def test_secret_box_decrypts_old_ciphertext_when_a_new_first_key_is_added() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ciphertext = SecretBox([old_key]).encrypt(b"made before rotation")

    plaintext = SecretBox([new_key, old_key]).decrypt(ciphertext)

    assert plaintext == b"made before rotation"


def test_secret_box_encrypts_with_the_first_key_when_several_are_configured() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    ciphertext = SecretBox([new_key, old_key]).encrypt(b"made after rotation")

    assert SecretBox([new_key]).decrypt(ciphertext) == b"made after rotation"
    assert SecretBox([old_key]).decrypt(ciphertext) is None


def test_secret_box_rotate_reencrypts_with_the_first_key_when_old_key_is_then_dropped() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ciphertext = SecretBox([old_key]).encrypt(b"secret")

    rotated = SecretBox([new_key, old_key]).rotate(ciphertext)

    assert rotated is not None
    assert SecretBox([new_key]).decrypt(rotated) == b"secret"


def test_secret_box_rotate_returns_none_when_ciphertext_was_made_with_a_foreign_key() -> None:
    ciphertext = SecretBox([Fernet.generate_key().decode()]).encrypt(b"secret")

    rotated = SecretBox([Fernet.generate_key().decode()]).rotate(ciphertext)

    assert rotated is None


@pytest.mark.parametrize(
    "ciphertext",
    [
        pytest.param(SecretBox([Fernet.generate_key().decode()]).encrypt(b"x"), id="foreign-key"),
        pytest.param("not-a-fernet-token", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_secret_box_decrypt_returns_none_when_ciphertext_is_not_ours(ciphertext: str) -> None:
    box = SecretBox([Fernet.generate_key().decode()])

    plaintext = box.decrypt(ciphertext)

    assert plaintext is None


def test_secret_box_refuses_to_build_when_no_key_is_given() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SecretBox([])


def test_secret_box_from_setting_derives_a_stable_key_when_setting_is_empty() -> None:
    ciphertext = SecretBox.from_setting("", fallback_secret="app-secret").encrypt(b"secret")

    plaintext = SecretBox.from_setting(" , ", fallback_secret="app-secret").decrypt(ciphertext)

    assert plaintext == b"secret"


def test_secret_box_from_setting_uses_every_listed_key_when_setting_has_several() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ciphertext = SecretBox([old_key]).encrypt(b"secret")

    box = SecretBox.from_setting(f"{new_key}, {old_key}", fallback_secret="unused")

    assert box.decrypt(ciphertext) == b"secret"


def test_signing_algorithm_is_one_fact_for_keys_settings_and_verifiers() -> None:
    generated = generate_es256_key()
    allowed = typing.get_args(IdentitySettings.model_fields["signing_algorithm"].annotation)

    assert generated.algorithm == generated.public_jwk["alg"] == ACCESS_TOKEN_ALGORITHM
    assert allowed == (ACCESS_TOKEN_ALGORITHM,)
    assert DEFAULT_ALGORITHMS == (ACCESS_TOKEN_ALGORITHM,)


def test_public_jwk_keeps_the_published_members_and_drops_any_other() -> None:
    stored = {**generate_es256_key().public_jwk, "ext": True, "key_ops": ["verify"]}

    jwk = PublicJwk.from_mapping(stored)

    assert jwk.as_dict() == {
        name: stored[name] for name in ("kty", "crv", "x", "y", "kid", "alg", "use")
    }
    assert load_public_jwk(jwk.as_dict()).public_numbers() == (
        load_public_jwk(stored).public_numbers()
    )
