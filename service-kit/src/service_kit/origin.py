"""Where the current request came from: the client's address (as the gateway forwarded it), its
user agent and the request id, for records that must say so (identity's audit log).

The HTTP layer binds it for each request (`service_kit.http.request_id`); outside a request
(CLI commands, workers) there is none. No Flask here: services read it without knowing HTTP.
"""

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

USER_AGENT_MAX_LENGTH: Final = 255
ADDRESS_MAX_LENGTH: Final = 45
"""The longest IPv6 text form (IPv4-mapped)."""


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    ip: str | None
    user_agent: str | None
    request_id: str | None


_CURRENT: ContextVar[RequestOrigin | None] = ContextVar("service_kit_origin", default=None)


def current_origin() -> RequestOrigin | None:
    """The origin of the request being handled, or None outside a request."""
    return _CURRENT.get()


def bind_origin(origin: RequestOrigin | None) -> None:
    _CURRENT.set(origin)


def client_address(value: str | None) -> str | None:
    """`value` as an IP address in its normal text form, or None when it is not one: the
    forwarded address comes from a header, and what is not an address is not kept."""
    try:
        address = str(ipaddress.ip_address(value or ""))
    except ValueError:
        return None
    return address if len(address) <= ADDRESS_MAX_LENGTH else None


def clip_user_agent(user_agent: str | None) -> str | None:
    """At most USER_AGENT_MAX_LENGTH characters; None for a missing or empty one."""
    return user_agent[:USER_AGENT_MAX_LENGTH] if user_agent else None
