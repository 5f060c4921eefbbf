from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.audit_event_type import AuditEventType

if TYPE_CHECKING:
    from ..models.audit_event_out_detail import AuditEventOutDetail


T = TypeVar("T", bound="AuditEventOut")


@_attrs_define
class AuditEventOut:
    """Something that happened to an account, who did it and from where.

    Attributes:
        actor_id (None | UUID): Who did it; null: the system or nobody known
        detail (AuditEventOutDetail):
        id (UUID):
        ip (None | str): The client's address, as the gateway forwarded it
        occurred_at (datetime.datetime):
        request_id (None | str):
        subject_id (None | UUID): The account it concerns
        type_ (AuditEventType): What happened to an account (the audit log's event kinds).
        user_agent (None | str):
    """

    actor_id: None | UUID
    detail: AuditEventOutDetail
    id: UUID
    ip: None | str
    occurred_at: datetime.datetime
    request_id: None | str
    subject_id: None | UUID
    type_: AuditEventType
    user_agent: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        actor_id: None | str
        if isinstance(self.actor_id, UUID):
            actor_id = str(self.actor_id)
        else:
            actor_id = self.actor_id

        detail = self.detail.to_dict()

        id = str(self.id)

        ip: None | str
        ip = self.ip

        occurred_at = self.occurred_at.isoformat()

        request_id: None | str
        request_id = self.request_id

        subject_id: None | str
        if isinstance(self.subject_id, UUID):
            subject_id = str(self.subject_id)
        else:
            subject_id = self.subject_id

        type_ = self.type_.value

        user_agent: None | str
        user_agent = self.user_agent

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "actor_id": actor_id,
                "detail": detail,
                "id": id,
                "ip": ip,
                "occurred_at": occurred_at,
                "request_id": request_id,
                "subject_id": subject_id,
                "type": type_,
                "user_agent": user_agent,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_event_out_detail import AuditEventOutDetail  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_actor_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                actor_id_type_0 = UUID(data)

                return actor_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        actor_id = _parse_actor_id(d.pop("actor_id"))

        detail = AuditEventOutDetail.from_dict(d.pop("detail"))

        id = UUID(d.pop("id"))

        def _parse_ip(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ip = _parse_ip(d.pop("ip"))

        occurred_at = datetime.datetime.fromisoformat(d.pop("occurred_at"))

        def _parse_request_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        request_id = _parse_request_id(d.pop("request_id"))

        def _parse_subject_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                subject_id_type_0 = UUID(data)

                return subject_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        subject_id = _parse_subject_id(d.pop("subject_id"))

        type_ = AuditEventType(d.pop("type"))

        def _parse_user_agent(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        user_agent = _parse_user_agent(d.pop("user_agent"))

        audit_event_out = cls(
            actor_id=actor_id,
            detail=detail,
            id=id,
            ip=ip,
            occurred_at=occurred_at,
            request_id=request_id,
            subject_id=subject_id,
            type_=type_,
            user_agent=user_agent,
        )

        audit_event_out.additional_properties = d
        return audit_event_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
