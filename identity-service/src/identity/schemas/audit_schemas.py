"""Audit event bodies and the listing's query."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from pydantic.config import JsonDict

from identity.models import AuditEventType
from service_kit.schemas import Omittable, OutputModel, PageQuery, example

_EVENT_EXAMPLE: JsonDict = {
    "id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
    "type": "login.succeeded",
    "occurred_at": "2026-12-01T17:40:12Z",
    "actor_id": "6f1c2b8e-3d4a-4e5f-9a0b-1c2d3e4f5a6b",
    "subject_id": "6f1c2b8e-3d4a-4e5f-9a0b-1c2d3e4f5a6b",
    "ip": "203.0.113.7",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "request_id": "5f0c6b0e9a2d4c1b8e7f6a5b4c3d2e1f",
    "detail": {"second_factor": None},
}


class AuditEventOut(OutputModel):
    """Something that happened to an account, who did it and from where."""

    model_config = example(_EVENT_EXAMPLE)

    id: uuid.UUID = Field(validation_alias="public_id")
    type: AuditEventType
    occurred_at: datetime
    actor_id: uuid.UUID | None = Field(description="Who did it; null: the system or nobody known")
    subject_id: uuid.UUID | None = Field(description="The account it concerns")
    ip: str | None = Field(description="The client's address, as the gateway forwarded it")
    user_agent: str | None
    request_id: str | None
    detail: dict[str, Any]


class AuditEventPage(OutputModel):
    """A page of audit events, newest first; `next_cursor` (null on the last page) asks for
    the next."""

    model_config = example({"data": [_EVENT_EXAMPLE], "next_cursor": None})

    data: list[AuditEventOut]
    next_cursor: str | None


class AuditEventQuery(PageQuery):
    type: Omittable[AuditEventType] = None
    user: Omittable[uuid.UUID] = Field(default=None, description="Events about this user")
