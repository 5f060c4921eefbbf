"""The one place where identity's objects are put together; services are built per request."""

from dataclasses import dataclass
from typing import Final, cast

from flask import current_app

from identity.config import IdentitySettings
from identity.security.hashing import PasswordHasher
from identity.security.keys import SecretBox
from identity.security.signing import AccessTokenIssuer
from identity.services.auth_service import AuthService, RefreshPolicy
from identity.services.key_service import KeyRing, KeyService
from identity.services.outbox_service import OutboxRelay, OutboxService, RelayObserver
from identity.services.user_service import PasswordPolicy, UserService
from service_kit.clock import Clock
from service_kit.db import CursorCodec
from service_kit.events.broker import EventPublisher
from service_kit.http.db import get_database, get_session

COMPONENTS_KEY: Final = "identity.components"


@dataclass(frozen=True, slots=True)
class Components:
    """Process-wide collaborators, built once by `create_app`."""

    settings: IdentitySettings
    clock: Clock
    hasher: PasswordHasher
    box: SecretBox
    key_ring: KeyRing
    issuer: AccessTokenIssuer
    refresh_policy: RefreshPolicy
    password_policy: PasswordPolicy
    user_cursors: CursorCodec


def components() -> Components:
    return cast(Components, current_app.extensions[COMPONENTS_KEY])


def auth_service() -> AuthService:
    parts = components()
    return AuthService(
        get_session(),
        issuer=parts.issuer,
        box=parts.box,
        hasher=parts.hasher,
        policy=parts.refresh_policy,
        clock=parts.clock,
    )


def user_service() -> UserService:
    parts = components()
    return UserService(
        get_session(),
        hasher=parts.hasher,
        password_policy=parts.password_policy,
        reauth_max_age_seconds=parts.settings.reauth_max_age_seconds,
        clock=parts.clock,
    )


def key_service() -> KeyService:
    parts = components()
    return KeyService(get_session(), box=parts.box, clock=parts.clock)


def outbox_service() -> OutboxService:
    return OutboxService(get_session(), clock=components().clock)


def outbox_relay(observer: RelayObserver | None = None) -> OutboxRelay:
    """The relay of `events relay`: batches on sessions of their own, a confirmed publisher."""
    parts = components()
    settings = parts.settings
    return OutboxRelay(
        get_database().session_factory,
        EventPublisher(settings.events_broker_url.get_secret_value()),
        batch_size=settings.events_relay_batch_size,
        poll_seconds=settings.events_relay_poll_seconds,
        observer=observer,
        clock=parts.clock,
    )


def user_cursors() -> CursorCodec:
    return components().user_cursors


def settings() -> IdentitySettings:
    return components().settings
