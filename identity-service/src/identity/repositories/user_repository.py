"""User queries."""

import uuid
from collections.abc import Sequence
from typing import Final

from sqlalchemy import bindparam, or_, select

from identity.models import RefreshToken, RefreshTokenFamily, User
from service_kit.db import (
    BaseRepository,
    BoundQuery,
    CreationOrder,
    KeysetPosition,
    escape_like,
    keyset_after,
    keyset_order,
    keyset_params,
)

_LIVE_BY_EMAIL: Final = select(User).where(
    User.email == bindparam("email"), User.deleted_at.is_(None)
)


class UserRepository(BaseRepository[User]):
    """Users; every lookup skips soft-deleted rows unless its name says otherwise."""

    model = User

    def find_by_email(self, email: str) -> User | None:
        query = self.by_email(email)
        return self.session.scalars(query.statement, query.params).one_or_none()

    @staticmethod
    def by_email(email: str) -> BoundQuery[User]:
        """The live user with this (normalised) email, as a query to run, or to run with
        another statement."""
        return BoundQuery(_LIVE_BY_EMAIL, {"email": email})

    def find_by_public_id(self, public_id: uuid.UUID) -> User | None:
        stmt = select(User).where(User.public_id == public_id, User.deleted_at.is_(None))
        return self.session.scalars(stmt).one_or_none()

    def find_by_id_for_update(self, user_id: int) -> User | None:
        """The live user row, re-read and locked until the transaction ends.

        Every write that concerns a user takes this lock first (before any token or session
        row), so such writes are serialised per user and never deadlock one another. It is
        `FOR NO KEY UPDATE`: rows that merely reference the user (a new session) are not held
        up by it."""
        stmt = (
            select(User)
            .where(User.id == user_id, User.deleted_at.is_(None))
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(stmt).one_or_none()

    def find_by_refresh_token_for_update(self, token_hash: str) -> User | None:
        """The live user whose session holds the refresh token with this hash, re-read and
        locked like `find_by_id_for_update` (the user's row only), in one statement."""
        return self.session.scalars(
            _USER_BY_REFRESH_TOKEN_FOR_UPDATE, {"token_hash": token_hash}
        ).one_or_none()

    def exists_with_email(self, email: str) -> bool:
        return self.find_by_email(email) is not None

    def list_page(
        self, *, limit: int, after: KeysetPosition | None, search: str | None
    ) -> Sequence[User]:
        """Live users oldest first, keyset-paginated on (created_at, id)."""
        stmt = select(User).where(User.deleted_at.is_(None))
        if search:
            pattern = f"%{escape_like(search.lower())}%"
            stmt = stmt.where(
                or_(
                    User.email.like(pattern, escape="\\"),
                    User.full_name.ilike(pattern, escape="\\"),
                )
            )
        params: dict[str, object] = {}
        if after is not None:
            stmt = stmt.where(
                keyset_after(User.created_at, User.id, order=CreationOrder.OLDEST_FIRST)
            )
            params = keyset_params(after)
        stmt = stmt.order_by(
            *keyset_order(User.created_at, User.id, order=CreationOrder.OLDEST_FIRST)
        )
        return self.session.scalars(stmt.limit(limit), params).all()


# Built once: a refresh runs it, and building a statement costs more than running a cached one.
_USER_BY_REFRESH_TOKEN_FOR_UPDATE: Final = (
    select(User)
    .join(RefreshTokenFamily, RefreshTokenFamily.user_id == User.id)
    .join(RefreshToken, RefreshToken.family_id == RefreshTokenFamily.id)
    .where(RefreshToken.token_hash == bindparam("token_hash"), User.deleted_at.is_(None))
    .with_for_update(key_share=True, of=User)
    .execution_options(populate_existing=True)
)
