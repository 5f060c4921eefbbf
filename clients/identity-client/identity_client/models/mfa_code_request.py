from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="MfaCodeRequest")


@_attrs_define
class MfaCodeRequest:
    """A code from the authenticator app, or a recovery code.

    Attributes:
        code (str): A code from the authenticator app, or one of the recovery codes.
    """

    code: str

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "code": code,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = d.pop("code")

        mfa_code_request = cls(
            code=code,
        )

        return mfa_code_request
