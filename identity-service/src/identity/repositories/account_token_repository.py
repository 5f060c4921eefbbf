"""Single-use account tokens: issued, consumed once (a conditional UPDATE), voided, pruned."""

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from identity.models import AccountToken, AccountTokenPurpose
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows


class AccountTokenRepository(BaseRepository[AccountToken]):
    model = AccountToken

    def consume(
        self, token_hash: str, purpose: AccountTokenPurpose, *, now: datetime
    ) -> tuple[int, str] | None:
        """Mark the token used if it is unused and unexpired, in one statement: of concurrent
        consumers exactly one gets the row back (the others find it used). Returns the token's
        user id and the address it was mailed to."""
        row = self.session.execute(
            update(AccountToken)
            .where(
                AccountToken.token_hash == token_hash,
                AccountToken.purpose == purpose,
                AccountToken.used_at.is_(None),
                AccountToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(AccountToken.user_id, AccountToken.email)
        ).first()
        return None if row is None else (row.user_id, row.email)

    def issue(
        self,
        user_id: int,
        email: str,
        purpose: AccountTokenPurpose,
        *,
        token_hash: str,
        now: datetime,
        ttl: timedelta,
    ) -> None:
        """Store a new token (its hash) for `email`'s owner, good until `now + ttl`."""
        self.add(
            AccountToken(
                user_id=user_id,
                purpose=purpose,
                email=email,
                token_hash=token_hash,
                created_at=now,
                expires_at=now + ttl,
            )
        )

    def usable(self, token_hash: str, purpose: AccountTokenPurpose, *, now: datetime) -> bool:
        """Whether the token exists unused and unexpired (a read: `consume` decides)."""
        stmt = select(AccountToken.id).where(
            AccountToken.token_hash == token_hash,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        return self.session.scalar(stmt) is not None

    def void_unused(self, user_id: int, purpose: AccountTokenPurpose) -> int:
        """Delete the user's unused tokens of this purpose (a newer one replaces them)."""
        stmt = delete(AccountToken).where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        return affected_rows(self.session.execute(stmt))

    def delete_expired(self, *, before: datetime) -> int:
        """Delete tokens that expired before `before`, used or not; how many."""
        stmt = delete(AccountToken).where(AccountToken.expires_at < before)
        return affected_rows(self.session.execute(stmt))
