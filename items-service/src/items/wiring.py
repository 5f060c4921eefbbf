"""The one place where items' objects are put together; services are built per request."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, cast

from flask import current_app
from sqlalchemy.orm import Session

from items.config import ItemsSettings
from items.services.erasure_service import ErasureService
from items.services.event_service import IdentityEventService
from items.services.item_service import ItemService
from service_kit.clock import Clock
from service_kit.db import CreationOrder, CursorCodec
from service_kit.http.db import get_session

COMPONENTS_KEY: Final = "items.components"
REVOCATIONS_KEY: Final = "items.revocations"
"""The app's `RevocationView`, or None when `revocation_check` is off."""


@dataclass(frozen=True, slots=True)
class Components:
    """Process-wide collaborators, built once by `create_app`."""

    settings: ItemsSettings
    clock: Clock
    item_cursors: Mapping[CreationOrder, CursorCodec]
    """One codec per order (scoped by it), so a cursor of one order is refused by the other."""


def components() -> Components:
    return cast(Components, current_app.extensions[COMPONENTS_KEY])


def item_service() -> ItemService:
    parts = components()
    return ItemService(
        get_session(),
        idempotency_ttl_seconds=parts.settings.idempotency_ttl_seconds,
        clock=parts.clock,
    )


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
