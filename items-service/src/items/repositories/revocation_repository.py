"""The revocation feed: appended by the event consumer, read past a revision by every worker."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text

from items.models import RevocationFeedEntry
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows
from service_kit.security.revocation import RevocationEntry


class RevocationFeedRepository(BaseRepository[RevocationFeedEntry]):
    model = RevocationFeedEntry

    def append(self, entry: RevocationFeedEntry) -> RevocationFeedEntry:
        """Add `entry`; its revision is its id.

        On PostgreSQL the table is locked against other writers (not readers) until the
        transaction ends. Without that, a transaction that drew revision 7 could commit after
        one that drew 8, and a poller that had read 8 would never read 7. Revocations are rare;
        serialising them costs nothing that matters.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("LOCK TABLE revocation_feed IN SHARE ROW EXCLUSIVE MODE"))
        return self.add(entry)

    def read_after(self, revision: int, *, limit: int) -> list[RevocationEntry]:
        stmt = _ENTRIES.where(RevocationFeedEntry.id > revision).limit(limit)
        return [RevocationEntry(*row) for row in self.session.execute(stmt)]

    def read_live(self, now: datetime) -> tuple[int, Sequence[RevocationEntry]]:
        """The newest revision and every entry up to it still in force at `now`. Rows up to the
        newest revision are all committed (see `append`), so the second read misses none."""
        revision = self.session.scalar(select(func.max(RevocationFeedEntry.id))) or 0
        stmt = _ENTRIES.where(
            RevocationFeedEntry.id <= revision, RevocationFeedEntry.expires_at > now
        )
        return revision, [RevocationEntry(*row) for row in self.session.execute(stmt)]

    def delete_expired(self, *, now: datetime) -> int:
        return affected_rows(
            self.session.execute(
                delete(RevocationFeedEntry).where(RevocationFeedEntry.expires_at <= now)
            )
        )


# Plain columns in RevocationEntry's order, not entities: every worker runs this five times a
# second, and a first read may bring thousands of rows.
_ENTRIES = select(
    RevocationFeedEntry.id,
    RevocationFeedEntry.kind,
    RevocationFeedEntry.expires_at,
    RevocationFeedEntry.user_id,
    RevocationFeedEntry.session_id,
    RevocationFeedEntry.not_before,
).order_by(RevocationFeedEntry.id)
