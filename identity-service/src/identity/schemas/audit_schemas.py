"""Audit event bodies and the listing's query."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from identity.models import AuditEventType
from service_kit.schemas import Omittable, OutputModel, PageQuery


class AuditEventOut(OutputModel):
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
    data: list[AuditEventOut]
    next_cursor: str | None


class AuditEventQuery(PageQuery):
    type: Omittable[AuditEventType] = None
    user: Omittable[uuid.UUID] = Field(default=None, description="Events about this user")
