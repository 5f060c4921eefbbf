"""Refresh tokens and their families."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, bindparam, delete, exists, select, update

from identity.models import RefreshToken, RefreshTokenFamily
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows


class RefreshTokenRepository(BaseRepository[RefreshToken]):
    """Refresh-token rows, looked up by hash; rotation locks the presented row."""

    model = RefreshToken

    def find_by_hash(self, token_hash: str) -> RefreshToken | None:
        stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        return self.session.scalars(stmt).one_or_none()

    def find_with_family_for_update(
        self, token_hash: str
    ) -> tuple[RefreshToken, RefreshTokenFamily] | None:
        """The token and its family in one statement; the token's row locked until the
        transaction ends (only it), so rotations are serialised."""
        row = self.session.execute(
            _TOKEN_WITH_FAMILY_FOR_UPDATE, {"token_hash": token_hash}
        ).one_or_none()
        return None if row is None else (row[0], row[1])

    def find_successor(self, token: RefreshToken) -> RefreshToken | None:
        stmt = select(RefreshToken).where(RefreshToken.parent_id == token.id)
        return self.session.scalars(stmt).one_or_none()

    def clear_successor_ciphertext(self, token_id: int) -> None:
        """Forget the successor a token kept for replays, before the next rotation keeps a new
        one on its successor: only the immediate parent of the live token may replay within
        the grace window. Each rotation clears its parent's, so no other token of a live
        family keeps one (revoking a family forgets them all: `RefreshTokenFamilyRepository.
        revoke_*`; the prune forgets any past the window)."""
        self.session.execute(_CLEAR_SUCCESSOR_CIPHERTEXT, {"token_id": token_id})

    def clear_stale_successor_ciphertexts(self, *, used_before: datetime) -> int:
        stmt = (
            update(RefreshToken)
            .where(
                RefreshToken.used_at < used_before, RefreshToken.successor_ciphertext.isnot(None)
            )
            .values(successor_ciphertext=None)
        )
        return affected_rows(self.session.execute(stmt))

    def delete_expired(self, *, now: datetime) -> int:
        """Delete tokens past their expiry; their successors keep living (parent link nulls)."""
        return affected_rows(
            self.session.execute(delete(RefreshToken).where(RefreshToken.expires_at <= now))
        )


class RefreshTokenFamilyRepository(BaseRepository[RefreshTokenFamily]):
    """Login sessions. Every way of ending one goes through `_revoke`, which also erases the
    family's grace-window copies of successor tokens, so no caller can forget to."""

    model = RefreshTokenFamily

    def find_by_public_id(self, public_id: uuid.UUID, *, user_id: int) -> RefreshTokenFamily | None:
        stmt = select(RefreshTokenFamily).where(
            RefreshTokenFamily.public_id == public_id, RefreshTokenFamily.user_id == user_id
        )
        return self.session.scalars(stmt).one_or_none()

    def list_live_for_user(self, user_id: int, *, now: datetime) -> Sequence[RefreshTokenFamily]:
        stmt = (
            select(RefreshTokenFamily)
            .where(
                RefreshTokenFamily.user_id == user_id,
                RefreshTokenFamily.revoked_at.is_(None),
                RefreshTokenFamily.expires_at > now,
            )
            .order_by(RefreshTokenFamily.last_used_at.desc(), RefreshTokenFamily.id.desc())
            .limit(1000)
        )
        return self.session.scalars(stmt).all()

    # Each revocation returns the public ids (`sid`s) of the families it revoked: those not
    # revoked before. Families already revoked are left as they were.

    def revoke_family(self, family_id: int, *, at: datetime, reason: str) -> list[uuid.UUID]:
        return self._revoke(RefreshTokenFamily.id == family_id, at=at, reason=reason)

    def revoke_all_for_user(self, user_id: int, *, at: datetime, reason: str) -> list[uuid.UUID]:
        return self._revoke(RefreshTokenFamily.user_id == user_id, at=at, reason=reason)

    def revoke_all_for_user_except(
        self, user_id: int, *, keep_family_public_id: uuid.UUID, at: datetime, reason: str
    ) -> list[uuid.UUID]:
        return self._revoke(
            (RefreshTokenFamily.user_id == user_id)
            & (RefreshTokenFamily.public_id != keep_family_public_id),
            at=at,
            reason=reason,
        )

    def _revoke(
        self, condition: ColumnElement[bool], *, at: datetime, reason: str
    ) -> list[uuid.UUID]:
        """Revoke the families matching `condition` that are not revoked yet."""
        stmt = (
            update(RefreshTokenFamily)
            .where(condition, RefreshTokenFamily.revoked_at.is_(None))
            .values(revoked_at=at, revoke_reason=reason)
            .returning(RefreshTokenFamily.public_id)
            .execution_options(synchronize_session="fetch")
        )
        revoked = list(self.session.scalars(stmt))
        # A revoked family never hands out a successor again, so the encrypted copies kept for
        # the reuse grace window are only a liability now: erase them in the same transaction.
        families = select(RefreshTokenFamily.id).where(condition).scalar_subquery()
        self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.family_id.in_(families),
                RefreshToken.successor_ciphertext.isnot(None),
            )
            .values(successor_ciphertext=None)
            .execution_options(synchronize_session="fetch")
        )
        return revoked

    def delete_dead(self, *, now: datetime) -> int:
        """Delete families that are expired, or revoked and without any token left."""
        has_tokens = exists().where(RefreshToken.family_id == RefreshTokenFamily.id)
        stmt = delete(RefreshTokenFamily).where(
            (RefreshTokenFamily.expires_at <= now)
            | (RefreshTokenFamily.revoked_at.isnot(None) & ~has_tokens)
        )
        return affected_rows(self.session.execute(stmt))


# Built once: every refresh runs them, and building a statement costs more than running a
# cached one.
_TOKEN_WITH_FAMILY_FOR_UPDATE: Final = (
    select(RefreshToken, RefreshTokenFamily)
    .join(RefreshTokenFamily, RefreshTokenFamily.id == RefreshToken.family_id)
    .where(RefreshToken.token_hash == bindparam("token_hash"))
    .with_for_update(of=RefreshToken)
)
_CLEAR_SUCCESSOR_CIPHERTEXT: Final = (
    update(RefreshToken)
    .where(RefreshToken.id == bindparam("token_id"), RefreshToken.successor_ciphertext.isnot(None))
    .values(successor_ciphertext=None)
    .execution_options(synchronize_session=False)
)
