"""Domain error hierarchy. Messages are safe to show clients; nothing here knows about HTTP."""

from typing import ClassVar


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code: ClassVar[str] = "domain_error"
    title: ClassVar[str] = "Request could not be completed"
    default_detail: ClassVar[str] = "The request could not be completed."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.default_detail)

    @property
    def detail(self) -> str:
        return str(self)


class NotFoundError(DomainError):
    code, title = "not_found", "Not found"
    default_detail = "The resource does not exist."


class ConflictError(DomainError):
    code, title = "conflict", "Conflict"
    default_detail = "The request conflicts with the current state of the resource."


class AuthenticationError(DomainError):
    code, title = "unauthenticated", "Authentication required"
    default_detail = "Valid credentials are required."


class InvalidTokenError(AuthenticationError):
    """Every access-token failure, whatever the cause, so callers learn nothing from the reason."""

    code, title = "invalid_token", "Invalid access token"
    default_detail = "The access token is missing, malformed, expired or not trusted."


class ReauthenticationRequiredError(AuthenticationError):
    """The token is valid, but the user last entered their password too long ago for this
    operation (RFC 9470's `insufficient_user_authentication`): log in again, then retry."""

    code, title = "reauthentication_required", "Recent login required"
    default_detail = "This operation needs a recent login; log in again and retry."

    def __init__(self, *, max_age_seconds: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.max_age_seconds = max_age_seconds


class PermissionDeniedError(DomainError):
    code, title = "forbidden", "Forbidden"
    default_detail = "You are not allowed to do this."


class PreconditionFailedError(DomainError):
    code, title = "precondition_failed", "Precondition failed"
    default_detail = "The resource changed since you read it; fetch it again and retry."


class BusinessRuleError(DomainError):
    code, title = "business_rule_violated", "Request violates a rule"


class InvalidCursorError(BusinessRuleError):
    code, title = "invalid_cursor", "Invalid cursor"
    default_detail = "The cursor was not issued by this service or has been modified."


class TooManyAttemptsError(DomainError):
    """The caller made too many failed attempts at something guarded (a login for one email,
    say): refused without trying, until `retry_after_seconds` have passed (the HTTP layer
    answers 429 with `Retry-After`)."""

    code, title = "too_many_attempts", "Too many attempts"
    default_detail = "Too many failed attempts; wait before trying again."

    def __init__(self, *, retry_after_seconds: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after_seconds = max(1, retry_after_seconds)


class ServiceUnavailableError(DomainError):
    """Temporary: the same request may succeed later. `retry_after_seconds`, when set, tells
    the client how long to wait (the HTTP layer sends it as `Retry-After`)."""

    code, title = "service_unavailable", "Service unavailable"
    default_detail = "A dependency is unavailable; try again shortly."
    retry_after_seconds: ClassVar[int | None] = None


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database could not be reached, or the connection was lost where running the
    request again would be unsafe (at or after a COMMIT, whose outcome is then unknown)."""

    code, title = "database_unavailable", "Database unavailable"
    default_detail = "The database is unavailable; try again shortly."
    retry_after_seconds = 2


class UniqueViolationError(ConflictError):
    """A unique constraint rejected a write; services re-raise it as a specific conflict."""

    code, title = "unique_violation", "Conflict"
    default_detail = "A unique value is already taken."

    def __init__(self, constraint: str | None = None) -> None:
        super().__init__()
        self.constraint = constraint
