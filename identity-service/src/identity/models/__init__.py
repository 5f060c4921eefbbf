"""identity's models; importing this module registers every table on `Base.metadata`."""

from identity.models.audit_event import AuditEvent, AuditEventType
from identity.models.base import Base
from identity.models.outbox_event import OutboxEvent
from identity.models.refresh_token import RefreshToken, RefreshTokenFamily, RevokeReason
from identity.models.signing_key import KeyState, SigningKey
from identity.models.throttle import Throttle, ThrottleScope
from identity.models.user import Role, User, normalise_email

__all__ = [
    "AuditEvent",
    "AuditEventType",
    "Base",
    "KeyState",
    "OutboxEvent",
    "RefreshToken",
    "RefreshTokenFamily",
    "RevokeReason",
    "Role",
    "SigningKey",
    "Throttle",
    "ThrottleScope",
    "User",
    "normalise_email",
]
