"""The committed AsyncAPI document is what the contract generates, and it describes real events."""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from service_kit.events.asyncapi import build_document, render
from service_kit.events.contract import (
    CloudEvent,
    EventType,
    KeyRetired,
    KeyRotated,
    Payload,
    SessionRevoked,
    TokensRevoked,
    UserChanges,
    UserDeleted,
    UserRegistered,
    UserUpdated,
)

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "events.asyncapi.json"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
USER = uuid.uuid4()
EXAMPLES: list[Payload] = [
    UserRegistered(user_id=USER, sequence=1, role="user", is_active=True),
    UserUpdated(user_id=USER, sequence=2, changes=UserChanges(is_active=False)),
    UserDeleted(user_id=USER, sequence=3),
    SessionRevoked(user_id=USER, sequence=4, session_ids=[uuid.uuid4()], reason="logout"),
    TokensRevoked(user_id=USER, sequence=5, not_before=NOW, reason="logout_all"),
    KeyRotated(kid="k2"),
    KeyRetired(kid="k1"),
]


def test_committed_document_is_what_the_contract_generates() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "regenerate: uv run python -m service_kit.events.asyncapi > docs/events.asyncapi.json"
    )


def test_document_has_a_channel_and_a_send_operation_per_event_type() -> None:
    document = build_document()

    assert set(document["channels"]) == {kind.value for kind in EventType}
    assert {op["action"] for op in document["operations"].values()} == {"send"}
    assert len(document["operations"]) == len(EventType)


def _validator(document: dict[str, Any], schema_name: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:asyncapi",
        DRAFT202012.create_resource(document),
    )
    return Draft202012Validator(
        {"$ref": f"urn:asyncapi#/components/schemas/{schema_name}"}, registry=registry
    )


@pytest.mark.parametrize("payload", EXAMPLES, ids=lambda payload: type(payload).__name__)
def test_every_real_envelope_validates_against_its_message_schema(payload: Payload) -> None:
    document = build_document()
    event = CloudEvent.of(payload, event_id=uuid.uuid4(), time=NOW)

    errors = list(
        _validator(document, f"{type(payload).__name__}Event").iter_errors(
            json.loads(event.to_json())
        )
    )

    assert errors == []


def test_envelope_of_another_type_does_not_validate() -> None:
    document = build_document()
    event = CloudEvent.of(EXAMPLES[2], event_id=uuid.uuid4(), time=NOW)  # UserDeleted

    errors = list(_validator(document, "KeyRotatedEvent").iter_errors(json.loads(event.to_json())))

    assert errors
