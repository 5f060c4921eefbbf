"""The integration-event contract: envelopes round-trip, payloads are typed, strangers refused."""

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from service_kit.events.contract import (
    CloudEvent,
    EventType,
    KeyRotated,
    SessionRevoked,
    TokensRevoked,
    UserChanges,
    UserUpdated,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_envelope_round_trips_through_json_with_its_typed_payload() -> None:
    user_id = uuid.uuid4()
    payload = TokensRevoked(user_id=user_id, sequence=3, not_before=NOW, reason="logout_all")
    event = CloudEvent.of(payload, event_id=uuid.uuid4(), time=NOW)

    again = CloudEvent.from_json(event.to_json())

    assert again == event
    assert again.type is EventType.TOKENS_REVOKED
    assert again.subject == str(user_id)
    assert again.payload() == payload


def test_envelope_is_cloudevents_1_0_structured_json() -> None:
    payload = SessionRevoked(
        user_id=uuid.uuid4(), sequence=1, session_ids=[uuid.uuid4()], reason="logout"
    )

    document = CloudEvent.of(payload, event_id=uuid.uuid4(), time=NOW).model_dump(mode="json")

    assert document["specversion"] == "1.0"
    assert document["source"] == "identity"
    assert document["type"] == "identity.session.revoked"
    assert document["datacontenttype"] == "application/json"
    assert set(document) == {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "datacontenttype",
        "data",
    }


def test_key_event_has_the_kid_as_subject() -> None:
    event = CloudEvent.of(KeyRotated(kid="abc"), event_id=uuid.uuid4(), time=NOW)

    assert (event.type, event.subject) == (EventType.KEY_ROTATED, "abc")


def test_update_lists_only_the_changed_fields() -> None:
    payload = UserUpdated(user_id=uuid.uuid4(), sequence=2, changes=UserChanges(role="admin"))

    event = CloudEvent.from_json(CloudEvent.of(payload, event_id=uuid.uuid4(), time=NOW).to_json())

    assert event.data["changes"] == {"role": "admin"}
    assert event.payload().changes.model_fields_set == {"role"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"specversion": "1.0"}',
        b'{"specversion": "0.3", "id": "5b1b0f0e-1111-4111-8111-111111111111", "type":'
        b' "identity.user.deleted", "time": "2026-11-30T12:00:00Z", "subject": "x", "data": {}}',
        b'{"specversion": "1.0", "id": "5b1b0f0e-1111-4111-8111-111111111111", "type":'
        b' "identity.user.exploded", "time": "2026-11-30T12:00:00Z", "subject": "x", "data": {}}',
    ],
)
def test_from_json_refuses_what_is_not_a_known_event(body: bytes) -> None:
    with pytest.raises(ValidationError):
        CloudEvent.from_json(body)


def test_payload_refuses_data_that_does_not_match_its_type() -> None:
    event = CloudEvent(
        id=uuid.uuid4(),
        type=EventType.TOKENS_REVOKED,
        time=NOW,
        subject="x",
        data={"user_id": str(uuid.uuid4()), "sequence": 1},
    )

    with pytest.raises(ValidationError):
        event.payload()


def test_envelope_refuses_a_naive_time() -> None:
    with pytest.raises(ValidationError):
        CloudEvent(
            id=uuid.uuid4(),
            type=EventType.KEY_RETIRED,
            time=datetime(2026, 11, 30, 12, 0),  # noqa: DTZ001 - the point of the test
            subject="k",
            data={"kid": "k"},
        )
