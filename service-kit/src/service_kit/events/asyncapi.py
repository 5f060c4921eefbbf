"""The AsyncAPI 3.0 document of the integration events, generated from the contract's models.

    python -m service_kit.events.asyncapi > docs/events.asyncapi.json

The committed document is checked against this output by the tests, so it cannot drift.
"""

import json
import sys
from typing import Any

from pydantic.json_schema import models_json_schema

from service_kit.events.contract import (
    CONTENT_TYPE,
    EXCHANGE,
    PAYLOADS,
    SOURCE,
    EventType,
)

_REF = "#/components/schemas/{model}"


def _name(event_type: EventType) -> str:
    return PAYLOADS[event_type].__name__


def _envelope_schema(event_type: EventType) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"CloudEvents 1.0 structured envelope of `{event_type.value}`.",
        "required": ["specversion", "id", "source", "type", "time", "subject", "data"],
        "additionalProperties": False,
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid", "description": "Deduplication key"},
            "source": {"const": SOURCE},
            "type": {"const": event_type.value},
            "time": {"type": "string", "format": "date-time"},
            "subject": {
                "type": "string",
                "description": "The user's public id (the kid for key events)",
            },
            "datacontenttype": {"const": "application/json"},
            "data": {"$ref": _REF.format(model=_name(event_type))},
        },
    }


def build_document() -> dict[str, Any]:
    """The whole document: a channel per event type (its routing key on the topic exchange)."""
    _, payload_defs = models_json_schema(
        [(model, "serialization") for model in PAYLOADS.values()], ref_template=_REF
    )
    schemas: dict[str, Any] = dict(payload_defs.get("$defs", {}))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in EventType:
        name = _name(event_type)
        schemas[f"{name}Event"] = _envelope_schema(event_type)
        messages[name] = {
            "name": event_type.value,
            "title": name,
            "summary": (PAYLOADS[event_type].__doc__ or name).strip().splitlines()[0],
            "contentType": CONTENT_TYPE,
            "payload": {"$ref": _REF.format(model=f"{name}Event")},
            "bindings": {"amqp": {"deliveryMode": 2, "messageType": event_type.value}},
        }
        channels[event_type.value] = {
            "address": event_type.value,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": EXCHANGE, "type": "topic", "durable": True},
                }
            },
        }
        operations[f"publish{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{event_type.value}"},
            "messages": [{"$ref": f"#/channels/{event_type.value}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "identity integration events",
            "version": "1.0.0",
            "description": (
                "What identity publishes through its transactional outbox. Consumers dedupe on "
                "the envelope `id` and drop a user's events whose `data.sequence` is not above "
                "the last one they applied."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "rabbitmq": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
