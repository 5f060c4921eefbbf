"""Recovery codes (used once: a conditional UPDATE) and the challenges of two-factor logins."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from identity.models import MfaChallenge, RecoveryCode
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows


class RecoveryCodeRepository(BaseRepository[RecoveryCode]):
    model = RecoveryCode

    def replace_all(self, user_id: int, code_hashes: Sequence[str]) -> None:
        """The user's codes become exactly these (unused)."""
        self.delete_all(user_id)
        self.session.execute(
            insert(RecoveryCode), [{"user_id": user_id, "code_hash": h} for h in code_hashes]
        )

    def delete_all(self, user_id: int) -> None:
        self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))

    def use(self, user_id: int, code_hash: str, *, now: datetime) -> bool:
        """Mark the unused code with this hash used; whether there was one (of concurrent uses
        of one code, one gets True)."""
        stmt = (
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return affected_rows(self.session.execute(stmt)) > 0


class MfaChallengeRepository(BaseRepository[MfaChallenge]):
    model = MfaChallenge

    def find_open(self, token_hash: str, *, now: datetime) -> MfaChallenge | None:
        """The challenge if it is still good (not closed, not expired)."""
        stmt = select(MfaChallenge).where(
            MfaChallenge.token_hash == token_hash,
            MfaChallenge.closed_at.is_(None),
            MfaChallenge.expires_at > now,
        )
        return self.session.scalars(stmt).one_or_none()

    def lock(self, challenge_id: int) -> MfaChallenge | None:
        """Re-read the challenge under its row lock (after the user's: see UserRepository)."""
        stmt = (
            select(MfaChallenge)
            .where(MfaChallenge.id == challenge_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(stmt).one_or_none()

    def delete_expired(self, *, before: datetime) -> int:
        stmt = delete(MfaChallenge).where(MfaChallenge.expires_at < before)
        return affected_rows(self.session.execute(stmt))
