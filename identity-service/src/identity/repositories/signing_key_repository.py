"""Signing keys."""

from collections.abc import Sequence

from sqlalchemy import select

from identity.models import KeyState, SigningKey
from service_kit.db import BaseRepository


class SigningKeyRepository(BaseRepository[SigningKey]):
    """Signing-key rows; there is at most one active key (a partial unique index says so)."""

    model = SigningKey

    def find_active(self) -> SigningKey | None:
        stmt = select(SigningKey).where(SigningKey.state == KeyState.ACTIVE)
        return self.session.scalars(stmt).one_or_none()

    def find_active_for_update(self) -> SigningKey | None:
        stmt = select(SigningKey).where(SigningKey.state == KeyState.ACTIVE).with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def find_by_kid(self, kid: str) -> SigningKey | None:
        return self.session.scalars(select(SigningKey).where(SigningKey.kid == kid)).one_or_none()

    def list_published(self) -> Sequence[SigningKey]:
        stmt = (
            select(SigningKey)
            .where(SigningKey.state.in_([KeyState.ACTIVE, KeyState.RETIRING]))
            .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        )
        return self.session.scalars(stmt).all()

    def list_all(self, *, limit: int = 1000) -> Sequence[SigningKey]:
        stmt = select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        return self.session.scalars(stmt.limit(limit)).all()

    def list_all_for_update(self) -> Sequence[SigningKey]:
        """Every key, unbounded and locked (for changes that must reach each one)."""
        stmt = select(SigningKey).order_by(SigningKey.id).with_for_update()
        return self.session.scalars(stmt).all()

    def list_retiring(self) -> Sequence[SigningKey]:
        stmt = select(SigningKey).where(SigningKey.state == KeyState.RETIRING)
        return self.session.scalars(stmt).all()
