"""Refresh tokens and their families."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from identity.models import RefreshToken, RefreshTokenFamily, RevokeReason
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows


@dataclass(frozen=True, slots=True)
class Rotation:
    """What rotating `token` (of `family`) writes, at `at`."""

    token: RefreshToken
    family: RefreshTokenFamily
    at: datetime
    successor_hash: str
    successor_ciphertext: str | None
    """The successor, encrypted, kept on `token` for the grace window (None: no window)."""
    expires_at: datetime
    """The successor's expiry, and the family's."""
    user_agent: str | None
    """The family's new user agent (clipped); None keeps the one it has."""


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

    def record_rotation(self, rotation: "Rotation") -> None:
        """Write a rotation: the presented token used (keeping the successor's ciphertext for
        the grace window), its parent's kept successor forgotten (only the immediate parent of
        the live token may replay; each rotation clears its parent's, so no other token of a
        live family keeps one, and revoking a family forgets them all), the successor inserted
        and the family's last use, expiry and user agent. The token and family objects are
        updated in memory as written.

        On PostgreSQL that is one statement (the three UPDATEs as CTEs of the INSERT, one round
        trip instead of four); elsewhere the session's unit of work."""
        token, family = rotation.token, rotation.family
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.connection().execute(
                _ROTATION,
                {
                    "p_parent_id": token.parent_id,
                    "p_token_id": token.id,
                    "p_family_id": family.id,
                    "p_now": rotation.at,
                    "p_ciphertext": rotation.successor_ciphertext,
                    "p_expires_at": rotation.expires_at,
                    "p_user_agent": rotation.user_agent,
                    "p_token_hash": rotation.successor_hash,
                    "p_public_id": uuid.uuid4(),
                },
            ).scalar_one()
            for obj, key, value in (
                (token, "used_at", rotation.at),
                (token, "successor_ciphertext", rotation.successor_ciphertext),
                (family, "last_used_at", rotation.at),
                (family, "expires_at", rotation.expires_at),
                (family, "user_agent", rotation.user_agent or family.user_agent),
            ):
                set_committed_value(obj, key, value)
            return
        if token.parent_id is not None:
            self.session.execute(_CLEAR_SUCCESSOR_CIPHERTEXT, {"token_id": token.parent_id})
        token.used_at = rotation.at
        token.successor_ciphertext = rotation.successor_ciphertext
        family.last_used_at = rotation.at
        family.expires_at = rotation.expires_at
        if rotation.user_agent:
            family.user_agent = rotation.user_agent
        self.add(
            RefreshToken(
                family_id=family.id,
                parent_id=token.id,
                token_hash=rotation.successor_hash,
                created_at=rotation.at,
                expires_at=rotation.expires_at,
            )
        )

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

    def revoke_family(
        self, family_id: int, *, at: datetime, reason: RevokeReason
    ) -> list[uuid.UUID]:
        return self._revoke(RefreshTokenFamily.id == family_id, at=at, reason=reason)

    def revoke_all_for_user(
        self, user_id: int, *, at: datetime, reason: RevokeReason
    ) -> list[uuid.UUID]:
        return self._revoke(RefreshTokenFamily.user_id == user_id, at=at, reason=reason)

    def revoke_all_for_user_except(
        self, user_id: int, *, keep_family_public_id: uuid.UUID, at: datetime, reason: RevokeReason
    ) -> list[uuid.UUID]:
        return self._revoke(
            (RefreshTokenFamily.user_id == user_id)
            & (RefreshTokenFamily.public_id != keep_family_public_id),
            at=at,
            reason=reason,
        )

    def _revoke(
        self, condition: ColumnElement[bool], *, at: datetime, reason: RevokeReason
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

_ROTATION_CLEARS_PARENT: Final = (
    update(RefreshToken)
    .where(
        RefreshToken.id == bindparam("p_parent_id"), RefreshToken.successor_ciphertext.isnot(None)
    )
    .values(successor_ciphertext=None, updated_at=bindparam("p_now"))
    .cte("cleared_parent")
)
_ROTATION_USES_TOKEN: Final = (
    update(RefreshToken)
    .where(RefreshToken.id == bindparam("p_token_id"))
    .values(
        used_at=bindparam("p_now"),
        successor_ciphertext=bindparam("p_ciphertext"),
        updated_at=bindparam("p_now"),
    )
    .cte("used_token")
)
_ROTATION_TOUCHES_FAMILY: Final = (
    update(RefreshTokenFamily)
    .where(RefreshTokenFamily.id == bindparam("p_family_id"))
    .values(
        last_used_at=bindparam("p_now"),
        expires_at=bindparam("p_expires_at"),
        user_agent=func.coalesce(bindparam("p_user_agent"), RefreshTokenFamily.user_agent),
        updated_at=bindparam("p_now"),
    )
    .cte("touched_family")
)
_ROTATION: Final = select(
    insert(RefreshToken)
    .values(
        public_id=bindparam("p_public_id"),
        family_id=bindparam("p_family_id"),
        parent_id=bindparam("p_token_id"),
        token_hash=bindparam("p_token_hash"),
        created_at=bindparam("p_now"),
        updated_at=bindparam("p_now"),
        expires_at=bindparam("p_expires_at"),
    )
    .returning(RefreshToken.id)
    .cte("successor")
    .c.id
).add_cte(_ROTATION_CLEARS_PARENT, _ROTATION_USES_TOKEN, _ROTATION_TOUCHES_FAMILY)
"""PostgreSQL: a rotation's four writes in one statement (data-modifying CTEs run whether or
not the statement refers to them; each touches other rows). Every value is bound, the update
times from the service's clock: a CTE cannot take Python-side column defaults."""
