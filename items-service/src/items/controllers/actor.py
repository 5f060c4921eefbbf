"""Who is calling, as the services take it."""

from items.services.item_service import Actor
from service_kit.http.auth import current_principal


def current_actor() -> Actor:
    """The authenticated caller; only valid inside a view marked by `require_auth`."""
    principal = current_principal()
    return Actor(user_id=principal.user_id, is_admin=principal.is_admin)
