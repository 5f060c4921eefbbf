"""The mail outbox: mails to send, written in the transaction of what asks for them."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from identity.models.base import Base
from service_kit.db import UTCDateTime, str_enum

_DUE = text("failed_at IS NULL")


class MailKind(StrEnum):
    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind of mail


class OutboundMail(Base):
    """A mail to send: what kind, to whom. It holds no link and no token: the mail worker
    makes the single-use token when it sends the mail, in the transaction that deletes this
    row, so no usable token ever rests in the outbox, and a request that asks for a mail
    writes the same row whether the address has an account or not (the worker drops it).

    A failed send is retried at `next_attempt_at` (backing off); after the last attempt the
    row stays with `failed_at` set, for an operator to see (`flask --app identity mail
    list`)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index(
            "ix_mail_outbox_due",
            "next_attempt_at",
            "id",
            postgresql_where=_DUE,
            sqlite_where=_DUE,
        ),
    )

    # 64 bits: rows are never reused; SQLite only autoincrements an INTEGER primary key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    kind: Mapped[MailKind] = mapped_column(str_enum(MailKind, name="mail_kind"))
    recipient: Mapped[str] = mapped_column(String(320))
    """The normalised address, as it was asked for."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
