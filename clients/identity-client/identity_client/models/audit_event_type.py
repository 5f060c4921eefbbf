from enum import StrEnum


class AuditEventType(StrEnum):
    EMAIL_VERIFIED = "email.verified"
    KEY_RETIRED = "key.retired"
    KEY_ROTATED = "key.rotated"
    LOGIN_FAILED = "login.failed"
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout.all"
    MFA_DISABLED = "mfa.disabled"
    MFA_ENABLED = "mfa.enabled"
    MFA_RESET = "mfa.reset"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_CHANGE_FAILED = "password.change_failed"
    PASSWORD_RESET = "password.reset"
    REFRESH_TOKEN_REUSED = "refresh_token.reused"
    SESSION_REVOKED = "session.revoked"
    USER_ACTIVE_CHANGED = "user.active_changed"
    USER_DELETED = "user.deleted"
    USER_ROLE_CHANGED = "user.role_changed"

    def __str__(self) -> str:
        return str(self.value)
