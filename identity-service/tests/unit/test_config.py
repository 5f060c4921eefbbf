"""IdentitySettings' own rules, on top of the shared production guard."""

import pytest
from pydantic import ValidationError

from tests.conftest import make_settings

DAY = 86_400


def test_settings_default_the_session_max_lifetime_to_90_days_when_unset() -> None:
    settings = make_settings()

    assert settings.session_max_lifetime_seconds == 90 * DAY


def test_settings_refuse_to_load_when_session_max_lifetime_is_below_refresh_token_ttl() -> None:
    with pytest.raises(ValidationError, match="at least refresh_token_ttl_seconds"):
        make_settings(refresh_token_ttl_seconds=30 * DAY, session_max_lifetime_seconds=29 * DAY)


def test_settings_load_when_session_max_lifetime_equals_refresh_token_ttl() -> None:
    settings = make_settings(
        refresh_token_ttl_seconds=30 * DAY, session_max_lifetime_seconds=30 * DAY
    )

    assert settings.session_max_lifetime_seconds == settings.refresh_token_ttl_seconds


def test_settings_refuse_the_console_mail_backend_in_production() -> None:
    # Whatever else is wrong with these production settings, the mail backend is named.
    with pytest.raises(ValidationError, match="mail_backend console prints tokens"):
        make_settings(env="production")


def test_the_smtp_password_is_optional_and_never_shown() -> None:
    settings = make_settings(mail_backend="smtp", smtp_password="hunter22")

    assert "hunter22" not in repr(settings)
    assert make_settings(mail_backend="smtp").smtp_password is None
