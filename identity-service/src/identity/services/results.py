"""What identity's services hand back: frozen values, never HTTP schemas."""

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type


@dataclass(frozen=True, slots=True)
class MfaRequired:
    """A login with the right password when two-factor login is on: finish it with the
    token and a code (`POST /auth/mfa/verify`)."""

    mfa_token: str
    expires_in: int
    mfa_required: bool = True


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    is_current: bool


@dataclass(frozen=True, slots=True)
class PruneResult:
    tokens_deleted: int
    families_deleted: int
    grace_secrets_cleared: int
    throttles_forgotten: int
    account_tokens_deleted: int
    """Expired verification and reset tokens and two-factor login challenges."""
