"""The audit log: security events, who did them to whom, and where the request came from."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from identity.models.base import Base
from service_kit.db import PublicIdMixin, UTCDateTime, str_enum


class AuditEventType(StrEnum):
    """What happened to an account (the audit log's event kinds)."""

    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    REFRESH_TOKEN_REUSED = "refresh_token.reused"  # noqa: S105 - an event name
    LOGOUT = "logout"
    LOGOUT_ALL = "logout.all"
    SESSION_REVOKED = "session.revoked"
    PASSWORD_CHANGED = "password.changed"  # noqa: S105 - an event name
    PASSWORD_CHANGE_FAILED = "password.change_failed"  # noqa: S105 - an event name
    PASSWORD_RESET = "password.reset"  # noqa: S105 - an event name
    EMAIL_VERIFIED = "email.verified"
    MFA_ENABLED = "mfa.enabled"
    MFA_DISABLED = "mfa.disabled"
    MFA_RESET = "mfa.reset"
    ROLE_CHANGED = "user.role_changed"
    ACTIVE_CHANGED = "user.active_changed"
    USER_DELETED = "user.deleted"
    KEY_ROTATED = "key.rotated"
    KEY_RETIRED = "key.retired"


class AuditEvent(PublicIdMixin, Base):
    """One security event. `actor_id` did it (None: the system, or nobody known, such as a login
    for an unknown email); `subject_id` is the account it concerns. `detail` is a small JSON
    object; no password, token, code, secret or submitted email ever goes in a row."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The admin listing, newest first: all events, one type, one user's.
        Index("ix_audit_events_occurred", "occurred_at", "id"),
        Index("ix_audit_events_type_occurred", "type", "occurred_at", "id"),
        Index("ix_audit_events_subject_occurred", "subject_id", "occurred_at", "id"),
    )

    type: Mapped[AuditEventType] = mapped_column(
        str_enum(AuditEventType, name="audit_event_type", length=32)
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    subject_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
