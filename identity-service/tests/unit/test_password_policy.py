"""PasswordPolicy: length limits, configurable minimum, fixed maximum of 128 characters."""

import pytest

from identity.errors import PasswordPolicyError
from identity.services.user_service import PasswordPolicy


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("a" * 8, id="minimum"),
        pytest.param("a" * 128, id="maximum"),
        pytest.param("correct horse battery", id="typical"),
        pytest.param("é" * 8, id="non-ascii-counted-as-characters"),
    ],
)
def test_check_accepts_password_when_length_is_within_limits(password: str) -> None:
    policy = PasswordPolicy(min_length=8)

    policy.check(password)  # raises PasswordPolicyError if refused


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * 7, id="one-short"),
        pytest.param("a" * 129, id="one-long"),
        pytest.param("a" * 10_000, id="huge"),
    ],
)
def test_check_raises_policy_error_when_length_is_outside_limits(password: str) -> None:
    policy = PasswordPolicy(min_length=8)

    with pytest.raises(PasswordPolicyError):
        policy.check(password)


def test_check_honours_configured_minimum_when_it_is_raised() -> None:
    policy = PasswordPolicy(min_length=12)

    with pytest.raises(PasswordPolicyError, match="12 to 128"):
        policy.check("a" * 11)


@pytest.mark.parametrize("length", [7, 129])
def test_check_enforces_8_to_128_characters_when_policy_is_not_configured(length: int) -> None:
    policy = PasswordPolicy()

    with pytest.raises(PasswordPolicyError, match="8 to 128"):
        policy.check("a" * length)
