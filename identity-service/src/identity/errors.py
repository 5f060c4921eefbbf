"""identity-service domain errors; `service_kit.http.problems` maps their categories to HTTP."""

from service_kit.errors import (
    AuthenticationError,
    BusinessRuleError,
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
)


class EmailTakenError(ConflictError):
    code, title = "email_taken", "Email already registered"
    default_detail = "An account with this email address already exists."


class InvalidCredentialsError(AuthenticationError):
    code, title = "invalid_credentials", "Invalid credentials"
    default_detail = "The email address or password is incorrect."


class InvalidRefreshTokenError(AuthenticationError):
    code, title = "invalid_refresh_token", "Invalid refresh token"
    default_detail = "The refresh token is unknown, expired or revoked."


class RefreshTokenReusedError(AuthenticationError):
    code, title = "refresh_token_reused", "Refresh token reused"
    default_detail = "This refresh token was already used; the session has been revoked."


class UserNotFoundError(NotFoundError):
    code, title = "user_not_found", "User not found"
    default_detail = "No user exists with this id."


class SessionNotFoundError(NotFoundError):
    code, title = "session_not_found", "Session not found"
    default_detail = "No live session exists with this id."


class PasswordPolicyError(BusinessRuleError):
    code, title = "password_policy", "Password does not meet the policy"


class SigningKeyNotFoundError(NotFoundError):
    code, title = "signing_key_not_found", "Signing key not found"
    default_detail = "No signing key has this kid."


class SigningKeyStateError(ConflictError):
    code, title = "signing_key_state", "Signing key is in the wrong state"


class SigningKeyUndecryptableError(BusinessRuleError):
    code, title = "signing_key_undecryptable", "Signing key cannot be decrypted"
    default_detail = "A private signing key was encrypted with none of the configured keys."


class InvalidAccountTokenError(DomainError):
    """A verification or reset token that is unknown, used, expired or no longer for its
    account: one answer for all (400)."""

    code, title = "invalid_token", "Invalid or expired token"
    default_detail = "The token is unknown, already used or expired; ask for a new mail."


class EmailNotVerifiedError(PermissionDeniedError):
    code, title = "email_not_verified", "Email address not verified"
    default_detail = (
        "Confirm your email address with the link we mailed you first "
        "(POST /api/v1/auth/verify-email/resend sends a new one)."
    )


class MfaAlreadyEnabledError(ConflictError):
    code, title = "mfa_already_enabled", "Two-factor login already on"
    default_detail = "Two-factor login is already on; disable it first to enrol again."


class MfaNotEnabledError(ConflictError):
    code, title = "mfa_not_enabled", "Two-factor login is off"
    default_detail = "Two-factor login is not on for this account."


class InvalidCodeError(DomainError):
    """A TOTP or recovery code that is wrong, reused or for no pending enrolment (400)."""

    code, title = "invalid_code", "Invalid code"
    default_detail = "The code is wrong or was already used."


class InvalidMfaError(AuthenticationError):
    """Every failure of the login's second step looks the same: unknown, expired, used or
    voided mfa_token, or a wrong code."""

    code, title = "invalid_mfa", "Two-factor login failed"
    default_detail = (
        "The code is wrong, or the mfa_token is unknown, expired or used up; log in again."
    )
