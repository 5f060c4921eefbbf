from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.item_status import ItemStatus

T = TypeVar("T", bound="ItemOut")


@_attrs_define
class ItemOut:
    """An item; its version is the response's `ETag`.

    Attributes:
        created_at (datetime.datetime):
        description (None | str):
        id (UUID):
        name (str):
        owner_id (UUID):
        status (ItemStatus): An item's stage: `draft` (the default), `active` or `archived`.
        updated_at (datetime.datetime):
    """

    created_at: datetime.datetime
    description: None | str
    id: UUID
    name: str
    owner_id: UUID
    status: ItemStatus
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        description: None | str
        description = self.description

        id = str(self.id)

        name = self.name

        owner_id = str(self.owner_id)

        status = self.status.value

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "description": description,
                "id": id,
                "name": name,
                "owner_id": owner_id,
                "status": status,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))

        id = UUID(d.pop("id"))

        name = d.pop("name")

        owner_id = UUID(d.pop("owner_id"))

        status = ItemStatus(d.pop("status"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        item_out = cls(
            created_at=created_at,
            description=description,
            id=id,
            name=name,
            owner_id=owner_id,
            status=status,
            updated_at=updated_at,
        )

        item_out.additional_properties = d
        return item_out

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
