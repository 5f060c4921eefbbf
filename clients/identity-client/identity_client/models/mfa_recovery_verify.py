from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="MfaRecoveryVerify")


@_attrs_define
class MfaRecoveryVerify:
    """The login's second step with one of the recovery codes (used once).

    Attributes:
        mfa_token (str):
        recovery_code (str):
    """

    mfa_token: str
    recovery_code: str

    def to_dict(self) -> dict[str, Any]:
        mfa_token = self.mfa_token

        recovery_code = self.recovery_code

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "mfa_token": mfa_token,
                "recovery_code": recovery_code,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        mfa_token = d.pop("mfa_token")

        recovery_code = d.pop("recovery_code")

        mfa_recovery_verify = cls(
            mfa_token=mfa_token,
            recovery_code=recovery_code,
        )

        return mfa_recovery_verify
