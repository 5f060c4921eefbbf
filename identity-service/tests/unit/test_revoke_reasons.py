"""Revoke reasons: one enum, stored on revoked families and sent in events."""

from pathlib import Path

from identity.models import RefreshTokenFamily, RevokeReason

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_revoke_reason_fits_the_column_that_keeps_it() -> None:
    width = RefreshTokenFamily.__table__.c.revoke_reason.type.length

    assert all(len(reason.value) <= width for reason in RevokeReason)


def test_readme_names_every_revoke_reason_the_events_can_carry() -> None:
    text = README.read_text()

    assert [reason for reason in RevokeReason if f"`{reason.value}`" not in text] == []
