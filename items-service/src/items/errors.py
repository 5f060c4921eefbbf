"""items-service domain errors; `service_kit.http.problems` maps their categories to HTTP."""

from service_kit.errors import (
    BusinessRuleError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)


class ItemNotFoundError(NotFoundError):
    """Also raised for other users' items: existence is not revealed."""

    code, title = "item_not_found", "Item not found"
    default_detail = "No item exists with this id."


class InvalidStatusTransitionError(ConflictError):
    code, title = "invalid_status_transition", "Invalid status transition"


class IdempotencyKeyReusedError(BusinessRuleError):
    code, title = "idempotency_key_reused", "Idempotency key reused"
    default_detail = "This Idempotency-Key was already used with a different request body."


class OwnerFilterForbiddenError(PermissionDeniedError):
    code, title = "owner_filter_forbidden", "Owner filter needs the admin role"
    default_detail = "Only admins may list other users' items."


class TagNotFoundError(NotFoundError):
    code, title = "tag_not_found", "Tag not found"
    default_detail = "The item does not have this tag."


class TooManyTagsError(ConflictError):
    code, title = "too_many_tags", "Too many tags"
    default_detail = "The item has the most tags an item may have; remove one first."
