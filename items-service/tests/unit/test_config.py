"""ItemsSettings: the revocation settings agree with each other."""

import pytest
from pydantic import ValidationError

from tests.conftest import make_settings


def test_settings_refuse_a_staleness_bound_within_two_poll_intervals() -> None:
    with pytest.raises(ValidationError, match="revocation_max_staleness_seconds"):
        make_settings(revocation_poll_seconds=1, revocation_max_staleness_seconds=2)


def test_revocation_lifetime_is_the_longest_token_lifetime_plus_the_leeway() -> None:
    settings = make_settings(access_token_max_ttl_seconds=600, token_leeway_seconds=20)

    assert settings.revocation_lifetime_seconds == 620
