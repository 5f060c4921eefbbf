"""The composition root: `build_components` builds every process-wide collaborator of identity
once; the use-case services are built per request (or per command) from them."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, cast

from flask import Flask, current_app
from sqlalchemy.orm import Session

from identity.config import IdentitySettings
from identity.mail.backends import ConsoleBackend, MailBackend, SmtpBackend, SmtpServer
from identity.mail.messages import MailComposer
from identity.models import SigningKey
from identity.repositories.throttle_repository import AttemptRule
from identity.security.hashing import Argon2idHasher, BulkheadHasher, PasswordHasher
from identity.security.key_ring import KeyRing
from identity.security.keys import SecretBox
from identity.security.signing import AccessTokenIssuer, AccessTokenPolicy
from identity.security.totp import SecondFactor
from identity.services.account_service import AccountService
from identity.services.audit_service import AuditService
from identity.services.auth_service import AuthService, MfaPolicy, RefreshPolicy
from identity.services.key_service import KeyService
from identity.services.mail_sender import MailObserver, MailPolicy, MailSender, MailWorker
from identity.services.mfa_service import MfaService
from identity.services.outbox_service import OutboxRelay, OutboxService, RelayObserver
from identity.services.throttle import AttemptThrottle
from identity.services.user_service import PasswordPolicy, UserService
from service_kit.bulkhead import Bulkhead
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import CursorCodec, Database
from service_kit.events.broker import EventPublisher
from service_kit.http.db import get_database, get_session
from service_kit.security.jwt_verify import AccessTokenVerifier

COMPONENTS_KEY: Final = "identity.components"


@dataclass(frozen=True, slots=True)
class Components:
    """Process-wide collaborators, built once by `build_components`."""

    settings: IdentitySettings
    clock: Clock
    hasher: PasswordHasher
    box: SecretBox
    key_ring: KeyRing
    issuer: AccessTokenIssuer
    verifier: AccessTokenVerifier
    refresh_policy: RefreshPolicy
    password_policy: PasswordPolicy
    user_cursors: CursorCodec
    audit_cursors: CursorCodec
    login_throttle: AttemptRule
    mail_throttle: AttemptRule
    """Mails asked for per address and kind: `mail_requests_per_hour`, then an hour's pause."""
    mail_policy: MailPolicy
    mail_composer: MailComposer
    mail_backend: MailBackend
    second_factor: SecondFactor
    totp_throttle: AttemptRule
    """Second-factor codes per account: the login rule's numbers."""
    throttle_secret: bytes
    """Keys the HMAC that stands for a throttled subject (derived from the secret key)."""
    warm_ups: tuple[Callable[[], None], ...]
    """Run once in each worker after the fork (see service_kit.gunicorn_config)."""


def build_components(
    settings: IdentitySettings,
    *,
    database: Database,
    clock: Clock = SYSTEM_CLOCK,
    hasher: PasswordHasher | None = None,
    mail_backend: MailBackend | None = None,
) -> Components:
    """Every process-wide collaborator, from the settings; `clock`, `hasher` and
    `mail_backend` for tests."""
    box = SecretBox.from_setting(
        settings.key_encryption_keys.get_secret_value(),
        fallback_secret=settings.secret_key.get_secret_value(),
    )

    def first_key(session: Session) -> SigningKey:
        return KeyService(session, box=box, clock=clock).ensure_active_key()

    login_rule = AttemptRule(
        max_failures=settings.login_throttle_max_failures,
        window=timedelta(seconds=settings.login_throttle_window_seconds),
        lock=timedelta(seconds=settings.login_throttle_lock_seconds),
        max_lock=timedelta(seconds=settings.login_throttle_max_lock_seconds),
    )
    key_ring = KeyRing(
        database.session_factory,
        box=box,
        first_key=first_key,
        ttl_seconds=settings.verification_key_cache_seconds,
    )
    return Components(
        settings=settings,
        clock=clock,
        hasher=BulkheadHasher(
            hasher
            or Argon2idHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost_kib=settings.argon2_memory_cost_kib,
                parallelism=settings.argon2_parallelism,
            ),
            Bulkhead(
                settings.password_hash_concurrency,
                niceness=settings.password_hash_niceness,
                name="password-hashing",
            ),
        ),
        box=box,
        key_ring=key_ring,
        issuer=AccessTokenIssuer(
            key_ring,
            AccessTokenPolicy(
                issuer=settings.issuer,
                audience=settings.access_token_audience,
                ttl_seconds=settings.access_token_ttl_seconds,
            ),
        ),
        verifier=AccessTokenVerifier(
            key_ring,
            issuer=settings.issuer,
            audience=settings.access_token_audience,
            algorithms=[settings.signing_algorithm],
            extra_required_claims=("auth_time",),  # recent-login checks rely on it
            clock=clock,
            cache_size=settings.token_cache_size,
        ),
        refresh_policy=RefreshPolicy(
            ttl_seconds=settings.refresh_token_ttl_seconds,
            reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
            max_lifetime_seconds=settings.session_max_lifetime_seconds,
        ),
        password_policy=PasswordPolicy(min_length=settings.password_min_length),
        user_cursors=CursorCodec(settings.secret_key.get_secret_value(), scope="users"),
        audit_cursors=CursorCodec(settings.secret_key.get_secret_value(), scope="audit"),
        login_throttle=login_rule,
        mail_throttle=AttemptRule(
            max_failures=settings.mail_requests_per_hour,
            window=timedelta(hours=1),
            lock=timedelta(hours=1),
            max_lock=timedelta(hours=1),
        ),
        mail_policy=MailPolicy(
            public_url=settings.public_url,
            verification_ttl_seconds=settings.email_verification_ttl_seconds,
            reset_ttl_seconds=settings.password_reset_ttl_seconds,
            max_attempts=settings.mail_max_attempts,
            retry_seconds=settings.mail_retry_seconds,
        ),
        mail_composer=MailComposer(product_name=settings.product_name, sender=settings.mail_from),
        mail_backend=mail_backend or build_mail_backend(settings),
        second_factor=SecondFactor(
            box,
            issuer_name=settings.product_name,
            recovery_secret=hashlib.sha256(
                b"identity.recovery-codes:" + settings.secret_key.get_secret_value().encode()
            ).digest(),
        ),
        totp_throttle=login_rule,
        throttle_secret=hashlib.sha256(
            b"identity.throttle:" + settings.secret_key.get_secret_value().encode()
        ).digest(),
        warm_ups=(key_ring.warm_up,),
    )


def install(app: Flask, parts: Components) -> None:
    """Make `parts` the app's components (what `components()` returns inside its requests)."""
    app.extensions[COMPONENTS_KEY] = parts


def components() -> Components:
    return cast(Components, current_app.extensions[COMPONENTS_KEY])


def build_mail_backend(settings: IdentitySettings) -> MailBackend:
    if settings.mail_backend == "console":
        return ConsoleBackend()
    password = settings.smtp_password
    return SmtpBackend(
        SmtpServer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            timeout_seconds=settings.smtp_timeout_seconds,
        )
    )


def attempt_throttle(session: Session, rule: AttemptRule | None = None) -> AttemptThrottle:
    """A throttle on `session`: the login rule unless another is given."""
    parts = components()
    return AttemptThrottle(
        session,
        rule=rule or parts.login_throttle,
        secret=parts.throttle_secret,
        clock=parts.clock,
    )


def account_service() -> AccountService:
    parts = components()
    session = get_session()
    return AccountService(
        session,
        hasher=parts.hasher,
        password_policy=parts.password_policy,
        mail_throttle=attempt_throttle(session, parts.mail_throttle),
        clock=parts.clock,
    )


def mail_sender(session: Session | None = None) -> MailSender:
    """The mail sender on `session` (the request's or command's by default)."""
    parts = components()
    return MailSender(
        session or get_session(),
        backend=parts.mail_backend,
        composer=parts.mail_composer,
        policy=parts.mail_policy,
        clock=parts.clock,
    )


def mail_worker(observer: MailObserver | None = None) -> MailWorker:
    """The loop of `mail run`: each mail on a session of its own."""
    return MailWorker(
        mail_sender,
        get_database().session_factory,
        poll_seconds=components().settings.mail_poll_seconds,
        observer=observer,
    )


def auth_service() -> AuthService:
    parts = components()
    session = get_session()
    return AuthService(
        session,
        throttle=attempt_throttle(session),
        issuer=parts.issuer,
        box=parts.box,
        hasher=parts.hasher,
        policy=parts.refresh_policy,
        require_verified_email=parts.settings.require_verified_email,
        mfa=MfaPolicy(
            second_factor=parts.second_factor,
            throttle=attempt_throttle(session, parts.totp_throttle),
        ),
        clock=parts.clock,
    )


def mfa_service() -> MfaService:
    parts = components()
    session = get_session()
    return MfaService(
        session,
        second_factor=parts.second_factor,
        throttle=attempt_throttle(session, parts.totp_throttle),
        reauth_max_age_seconds=parts.settings.reauth_max_age_seconds,
        clock=parts.clock,
    )


def user_service() -> UserService:
    parts = components()
    session = get_session()
    return UserService(
        session,
        throttle=attempt_throttle(session),
        hasher=parts.hasher,
        password_policy=parts.password_policy,
        reauth_max_age_seconds=parts.settings.reauth_max_age_seconds,
        clock=parts.clock,
    )


def audit_service() -> AuditService:
    parts = components()
    return AuditService(
        get_session(), retention_days=parts.settings.audit_retention_days, clock=parts.clock
    )


def audit_cursors() -> CursorCodec:
    return components().audit_cursors


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
