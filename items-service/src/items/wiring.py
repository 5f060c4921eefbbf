"""The composition root: `build_components` builds every process-wide collaborator of items
once; the use-case services are built per request (or per event) from them."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, cast

from flask import Flask, current_app
from sqlalchemy.orm import Session

from items.config import ItemsSettings
from items.revocations import DatabaseRevocationFeed
from items.services.erasure_service import ErasureService
from items.services.event_service import IdentityEventService
from items.services.item_service import ItemService
from items.services.tag_service import TagService
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import CreationOrder, CursorCodec
from service_kit.http.db import get_session
from service_kit.http.health import ReadinessCheck
from service_kit.security.jwks_client import JwksClient
from service_kit.security.jwt_verify import AccessTokenVerifier, KeySource
from service_kit.security.revocation import RevocationView

COMPONENTS_KEY: Final = "items.components"


@dataclass(frozen=True, slots=True)
class Components:
    """Process-wide collaborators, built once by `build_components`."""

    settings: ItemsSettings
    clock: Clock
    verifier: AccessTokenVerifier
    revocations: RevocationView | None
    """Revoked sessions and "void before" marks in memory; None when `revocation_check` is off."""
    item_cursors: Mapping[CreationOrder, CursorCodec]
    """One codec per order (scoped by it), so a cursor of one order is refused by the other."""
    readiness_checks: Mapping[str, ReadinessCheck]
    warm_ups: tuple[Callable[[], None], ...]
    """Run once in each worker after the fork (see service_kit.gunicorn_config)."""


def build_components(
    settings: ItemsSettings, *, clock: Clock = SYSTEM_CLOCK, keys: KeySource | None = None
) -> Components:
    """Every process-wide collaborator, from the settings. `keys` replaces the JWKS (tests):
    then nothing fetches keys, and the readiness check and the key reloads on events go."""
    jwks = JwksClient(
        settings.jwks_url,
        ttl_seconds=settings.jwks_cache_seconds,
        min_refetch_interval_seconds=settings.jwks_min_refetch_seconds,
        timeout_seconds=settings.jwks_timeout_seconds,
    )
    # Revoked sessions and "void before" marks, from the feed the event consumer writes:
    # answered from memory, refreshed by a poller each worker starts after the fork.
    revocations = (
        RevocationView(
            DatabaseRevocationFeed(settings),
            poll_interval_seconds=settings.revocation_poll_seconds,
            max_staleness_seconds=settings.revocation_max_staleness_seconds,
            on_keys_changed=jwks.refresh if keys is None else None,
            clock=clock,
        )
        if settings.revocation_check
        else None
    )
    # The feed's first read comes before the keys are loaded: a key change committed between
    # the two is then in the keys, and one after the read is applied by the next poll.
    warm_ups: list[Callable[[], None]] = [revocations.start] if revocations is not None else []
    if keys is None:
        warm_ups.append(jwks.warm_up)
    secret = settings.secret_key.get_secret_value()
    return Components(
        settings=settings,
        clock=clock,
        verifier=AccessTokenVerifier(
            keys or jwks,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            algorithms=settings.token_algorithms,
            leeway_seconds=settings.token_leeway_seconds,
            clock=clock,
            revocations=revocations,
            max_lifetime_seconds=settings.access_token_max_ttl_seconds,
            cache_size=settings.token_cache_size,
        ),
        revocations=revocations,
        item_cursors={
            order: CursorCodec(secret, scope=f"items:{order.value}") for order in CreationOrder
        },
        readiness_checks={"jwks": jwks.ensure_available} if keys is None else {},
        warm_ups=tuple(warm_ups),
    )


def install(app: Flask, parts: Components) -> None:
    """Make `parts` the app's components (what `components()` returns inside its requests)."""
    app.extensions[COMPONENTS_KEY] = parts


def components() -> Components:
    return cast(Components, current_app.extensions[COMPONENTS_KEY])


def item_service() -> ItemService:
    parts = components()
    return ItemService(
        get_session(),
        idempotency_ttl_seconds=parts.settings.idempotency_ttl_seconds,
        clock=parts.clock,
    )


def tag_service() -> TagService:
    return TagService(get_session(), clock=components().clock)


def item_cursors(order: CreationOrder) -> CursorCodec:
    """Cursors are bound to their sort order: one from the other order is rejected."""
    return components().item_cursors[order]


def identity_event_service(
    session: Session, *, settings: ItemsSettings, clock: Clock
) -> IdentityEventService:
    """For the event consumer, which runs outside requests: explicit session and settings."""
    return IdentityEventService(
        session,
        revocation_lifetime_seconds=settings.revocation_lifetime_seconds,
        inbox_retention_seconds=settings.events_inbox_retention_seconds,
        clock=clock,
    )


def erasure_service(session: Session, *, settings: ItemsSettings, clock: Clock) -> ErasureService:
    return ErasureService(session, batch_size=settings.events_erasure_batch_size, clock=clock)
