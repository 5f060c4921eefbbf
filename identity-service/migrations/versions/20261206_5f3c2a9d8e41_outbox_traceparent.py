"""outbox: the trace context an event was recorded in

outbox gains `traceparent` (nullable): with tracing on, the W3C trace context of the request
that recorded the event, which the relay's publish span continues. The envelope is unchanged.

Revision ID: 5f3c2a9d8e41
Revises: bce8e31a724d
Create Date: 2026-12-06 18:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5f3c2a9d8e41'
down_revision = 'bce8e31a724d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('traceparent', sa.String(length=55), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('traceparent')
