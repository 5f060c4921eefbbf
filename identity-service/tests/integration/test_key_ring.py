"""The process-wide key ring: a fresh database gets its first signing key when a worker starts."""

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.models import KeyState, SigningKey
from identity.security.keys import SecretBox
from identity.services.key_service import KeyRing


def test_warm_up_creates_the_first_active_key_when_the_database_has_none(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    ring = KeyRing(
        session_factory, box=SecretBox.from_setting("", fallback_secret="s"), ttl_seconds=0
    )

    ring.warm_up()

    states = session.scalars(select(SigningKey.state)).all()
    assert states == [KeyState.ACTIVE]
