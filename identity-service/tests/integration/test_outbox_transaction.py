"""An event is written in the transaction of the change it announces: committed with it, rolled
back with it."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from identity.models import OutboxEvent, Role, User
from identity.schemas.user_schemas import AdminUserUpdate, UserCreate
from identity.services.user_service import UserService
from identity.wiring import Components
from service_kit.db import Database
from tests.factories import DEFAULT_PASSWORD, make_user, unique_email
from tests.integration.conftest import login_throttle


def outbox_rows(session: Session, subject: object) -> list[OutboxEvent]:
    stmt = select(OutboxEvent).where(OutboxEvent.subject == str(subject))
    return list(session.scalars(stmt))


def test_register_user_writes_the_event_in_the_transaction_that_creates_the_user(
    committing_database: Database, parts: Components
) -> None:
    with committing_database.session_factory() as session:
        user = UserService(
            session,
            hasher=parts.hasher,
            password_policy=parts.password_policy,
            throttle=login_throttle(session, parts),
        ).register_user(UserCreate(email=unique_email(), password=DEFAULT_PASSWORD))

    with committing_database.session_factory() as session:
        # xmin: the id of the transaction that wrote the row version.
        user_xmin = session.execute(
            text("SELECT xmin::text FROM users WHERE id = :id"), {"id": user.id}
        ).scalar_one()
        event_xmins = session.execute(
            text("SELECT xmin::text FROM outbox WHERE subject = :subject"),
            {"subject": str(user.public_id)},
        ).scalars()
        assert list(event_xmins) == [user_xmin]


def test_admin_update_user_leaves_no_event_when_the_change_is_rolled_back(
    session: Session, parts: Components
) -> None:
    admin, user = make_user(session, role=Role.ADMIN), make_user(session, full_name="Ada")
    session.commit()  # the arrangement stays; only the service's transaction rolls back
    service = UserService(
        session,
        hasher=parts.hasher,
        password_policy=parts.password_policy,
        throttle=login_throttle(session, parts),
    )
    # Past the schema's limit (a caller that skipped validation): the database refuses the
    # change when the transaction flushes it, after the event was written.
    too_long = AdminUserUpdate.model_construct(full_name="x" * 101)

    with pytest.raises(DataError):
        service.admin_update_user(user.public_id, too_long, actor_id=admin.public_id)

    session.expire_all()
    assert outbox_rows(session, user.public_id) == []
    stored = session.get(User, user.id)
    assert stored is not None
    assert (stored.full_name, stored.event_sequence) == ("Ada", 0)
