"""User model rules: the per-user event counter and the access-token revocation bound."""

from datetime import UTC, datetime, timedelta

from identity.models import User

NOON = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_next_event_sequence_counts_from_one_when_the_user_has_no_event_yet() -> None:
    user = User(event_sequence=0)

    assert [user.next_event_sequence() for _ in range(3)] == [1, 2, 3]


def test_revoke_access_tokens_bounds_at_the_next_second_when_revoked_within_a_second() -> None:
    user = User()

    not_before = user.revoke_access_tokens(at=NOON + timedelta(seconds=0.7))

    assert not_before == NOON + timedelta(seconds=1)
    assert user.tokens_not_before == not_before


def test_revoke_access_tokens_voids_that_seconds_tokens_when_revoked_on_a_whole_second() -> None:
    user = User()

    not_before = user.revoke_access_tokens(at=NOON)

    assert int(NOON.timestamp()) < not_before.timestamp()  # a token with iat = NOON is void


def test_revoke_access_tokens_passes_the_earlier_bound_when_revoked_twice_in_a_second() -> None:
    user = User()
    first = user.revoke_access_tokens(at=NOON + timedelta(seconds=0.2))

    second = user.revoke_access_tokens(at=NOON + timedelta(seconds=0.6))

    # A token issued between the two carries `iat` = first; the second revocation voids it.
    assert second == first + timedelta(seconds=1)


def test_revoke_access_tokens_bounds_at_the_next_second_when_the_old_bound_has_passed() -> None:
    user = User()
    user.revoke_access_tokens(at=NOON)

    not_before = user.revoke_access_tokens(at=NOON + timedelta(minutes=5, seconds=0.5))

    assert not_before == NOON + timedelta(minutes=5, seconds=1)
