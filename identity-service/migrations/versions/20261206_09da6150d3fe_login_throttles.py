"""login throttles

Failed logins per email, for the per-account throttle: one row per (scope, HMAC of the
normalised email), never the email itself. The unique constraint is the lookup every login
makes; updated_at serves the prune (`tokens prune`).

Revision ID: 09da6150d3fe
Revises: 686d2bb337d3
Create Date: 2026-12-06 09:14:00.528730

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '09da6150d3fe'
down_revision = '686d2bb337d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('throttles',
    sa.Column('scope', sa.Enum('login', name='throttle_scope', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lockouts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_throttles')),
    sa.UniqueConstraint('scope', 'key_hash', name='uq_throttles_scope_key')
    )
    with op.batch_alter_table('throttles', schema=None) as batch_op:
        batch_op.create_index('ix_throttles_updated_at', ['updated_at'], unique=False)



def downgrade():
    with op.batch_alter_table('throttles', schema=None) as batch_op:
        batch_op.drop_index('ix_throttles_updated_at')

    op.drop_table('throttles')
