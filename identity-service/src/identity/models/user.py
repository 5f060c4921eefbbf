"""User accounts."""

from enum import StrEnum

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from identity.models.base import Base
from service_kit.db import PublicIdMixin, SoftDeleteMixin, TimestampMixin, str_enum


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


def normalise_email(email: str) -> str:
    """The stored form of an email address: trimmed and lower-cased, so uniqueness ignores case."""
    return email.strip().lower()


class User(PublicIdMixin, TimestampMixin, SoftDeleteMixin, Base):
    """A person who can log in. `email` is stored normalised; only live rows must be unique."""

    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_email_live",
            "email",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        Index("ix_users_created_at_id", "created_at", "id"),
    )

    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(
        str_enum(Role, name="role"),
        default=Role.USER,
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(255))

    @property
    def can_log_in(self) -> bool:
        return self.is_active and not self.is_deleted
