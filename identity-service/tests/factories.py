"""Plain functions that put rows in the database with unique defaults (add + flush)."""

import uuid

from sqlalchemy.orm import Session

from identity.models import Role, User
from identity.security.hashing import Argon2idHasher
from tests.conftest import CHEAP_ARGON2

DEFAULT_PASSWORD = "correct horse battery"

_hasher = Argon2idHasher(**CHEAP_ARGON2)


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def make_user(
    session: Session,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    role: Role = Role.USER,
    is_active: bool = True,
    full_name: str | None = "Test User",
) -> User:
    user = User(
        email=email or unique_email(),
        password_hash=_hasher.hash(password),
        role=role,
        is_active=is_active,
        full_name=full_name,
    )
    session.add(user)
    session.flush()
    return user
