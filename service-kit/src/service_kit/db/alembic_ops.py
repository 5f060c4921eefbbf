"""Operations that migrations share (Alembic's `op`, in a migration's upgrade or downgrade)."""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


def allow_only(table: str, column: str, constraint: str, values: Sequence[str]) -> None:
    """Make the named CHECK constraint of an enum column (`native_enum=False`, as
    `service_kit.db.str_enum` declares them) admit exactly `values`: widen it when an enum
    gains a member, narrow it on the way down (delete the rows it would refuse first).
    Batch mode, so SQLite rebuilds the table; `constraint` is the final name."""
    listed = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(constraint), type_="check")
        batch_op.create_check_constraint(op.f(constraint), sa.text(f"{column} IN ({listed})"))
