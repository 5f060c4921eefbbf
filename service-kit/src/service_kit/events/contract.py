"""The integration events identity publishes and others consume (DESIGN.md section 8).

Each event travels as a CloudEvents 1.0 structured-mode JSON envelope. `id` is the
deduplication key: a consumer applies an event at most once. `subject` is the user's public id
(the kid for key events), and `data.sequence` counts a user's events: a consumer that has
applied sequence N of a user ignores any event of that user with a lower one.

The payload models here are the one definition both services use; the AsyncAPI document is
generated from them. They carry no secrets and no email addresses.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SOURCE: Final = "identity"
EXCHANGE: Final = "identity.events"
"""Durable topic exchange; the routing key of a message is its event type."""
DEAD_LETTER_EXCHANGE: Final = "identity.events.dlx"
CONTENT_TYPE: Final = "application/cloudevents+json"


class EventType(StrEnum):
    USER_REGISTERED = "identity.user.registered"
    USER_UPDATED = "identity.user.updated"
    USER_DELETED = "identity.user.deleted"
    SESSION_REVOKED = "identity.session.revoked"
    TOKENS_REVOKED = "identity.user.tokens_revoked"
    KEY_ROTATED = "identity.key.rotated"
    KEY_RETIRED = "identity.key.retired"


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UserPayload(_Payload):
    """What every event about one user carries."""

    user_id: uuid.UUID
    sequence: Annotated[int, Field(ge=1, description="The user's event counter, from 1")]


class UserRegistered(UserPayload):
    role: str
    is_active: bool


class UserChanges(_Payload):
    """The fields an update changed, with their new values; absent fields did not change (a
    name cleared to null is present, with null)."""

    role: str | None = None
    is_active: bool | None = None
    full_name: str | None = None


class UserUpdated(UserPayload):
    changes: UserChanges


class UserDeleted(UserPayload):
    """The account is gone: consumers erase what they hold of the user."""


class SessionRevoked(UserPayload):
    """Access tokens whose `sid` is one of these sessions are void from now on."""

    session_ids: Annotated[list[uuid.UUID], Field(min_length=1)]
    reason: str


class TokensRevoked(UserPayload):
    """Every access token of the user issued before `not_before` is void.

    The rule, for every verifier: a token of this user is void iff its `iat` < `not_before`
    (both in whole seconds; compare `iat` with `not_before` as a Unix timestamp). Tokens
    carry `iat` in whole seconds, so identity sets `not_before` to the revocation instant
    floored to the second plus one second (and one second past an earlier bound of the same
    second), which voids every token issued before the revocation; and it never issues a
    token with `iat` below the user's current `not_before` (it issues with `iat = nbf =
    max(now floored to the second, not_before)`, at most a second ahead of the clock, within
    every verifier's leeway). So a token issued after the revocation (a login right after
    logout-all, a refresh after a role change) is valid. Keep the latest `not_before` per
    user: a later event never moves it back.
    """

    not_before: AwareDatetime
    reason: str


class KeyPayload(_Payload):
    kid: str


class KeyRotated(KeyPayload):
    """A new signing key is active: verifiers reload the JWKS."""


class KeyRetired(KeyPayload):
    """A key left the JWKS: tokens it signed no longer verify."""


Payload = (
    UserRegistered
    | UserUpdated
    | UserDeleted
    | SessionRevoked
    | TokensRevoked
    | KeyRotated
    | KeyRetired
)

PAYLOADS: Final[dict[EventType, type[_Payload]]] = {
    EventType.USER_REGISTERED: UserRegistered,
    EventType.USER_UPDATED: UserUpdated,
    EventType.USER_DELETED: UserDeleted,
    EventType.SESSION_REVOKED: SessionRevoked,
    EventType.TOKENS_REVOKED: TokensRevoked,
    EventType.KEY_ROTATED: KeyRotated,
    EventType.KEY_RETIRED: KeyRetired,
}


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    source: str = SOURCE
    type: EventType
    time: AwareDatetime
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    @classmethod
    def of(cls, payload: Payload, *, event_id: uuid.UUID, time: datetime) -> Self:
        """The envelope of `payload`; the subject is its user's id, or its kid."""
        event_type = next(kind for kind, model in PAYLOADS.items() if type(payload) is model)
        subject = str(payload.user_id) if isinstance(payload, UserPayload) else payload.kid
        return cls(
            id=event_id,
            type=event_type,
            time=time,
            subject=subject,
            data=payload.model_dump(mode="json", exclude_unset=True),
        )

    def payload(self) -> Payload:
        """The typed data of this event.

        Raises:
            pydantic.ValidationError: the data does not match its type's model.
        """
        return PAYLOADS[self.type].model_validate(self.data)  # type: ignore[return-value]

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> Self:
        """Raises:
        pydantic.ValidationError: not a CloudEvents envelope of a known type.
        """
        return cls.model_validate_json(body)
