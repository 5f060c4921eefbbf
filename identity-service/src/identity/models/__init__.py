"""identity's models; importing this module registers every table on `Base.metadata`."""

from identity.models.account_token import AccountToken, AccountTokenPurpose
from identity.models.audit_event import AuditEvent, AuditEventType
from identity.models.base import Base
from identity.models.mfa import MfaChallenge, RecoveryCode
from identity.models.outbound_mail import MailKind, OutboundMail
from identity.models.outbox_event import OutboxEvent
from identity.models.refresh_token import RefreshToken, RefreshTokenFamily, RevokeReason
from identity.models.signing_key import KeyState, SigningKey
from identity.models.throttle import Throttle, ThrottleScope
from identity.models.user import Role, User, normalise_email

__all__ = [
    "AccountToken",
    "AccountTokenPurpose",
    "AuditEvent",
    "AuditEventType",
    "Base",
    "KeyState",
    "MailKind",
    "MfaChallenge",
    "OutboundMail",
    "OutboxEvent",
    "RecoveryCode",
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
