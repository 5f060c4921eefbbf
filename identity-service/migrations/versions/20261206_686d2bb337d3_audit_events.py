"""audit events

The audit log (security events with actor, subject, client address, user agent, request id and
a small JSON detail). Listed newest first by admins, whole or by type or by subject: one index
per listing, each ending in (occurred_at, id) for the keyset pages; the first also serves the
retention prune (occurred_at below a cutoff).

Revision ID: 686d2bb337d3
Revises: a4bbd43240ce
Create Date: 2026-12-06 09:03:14.542261

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '686d2bb337d3'
down_revision = 'a4bbd43240ce'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_events',
    sa.Column('type', sa.Enum('login.succeeded', 'login.failed', 'refresh_token.reused', 'logout', 'logout.all', 'session.revoked', 'password.changed', 'user.role_changed', 'user.active_changed', 'user.deleted', 'key.rotated', 'key.retired', name='audit_event_type', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('public_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('public_id', name=op.f('uq_audit_events_public_id'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_occurred', ['occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_subject_occurred', ['subject_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_type_occurred', ['type', 'occurred_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_type_occurred')
        batch_op.drop_index('ix_audit_events_subject_occurred')
        batch_op.drop_index('ix_audit_events_occurred')

    op.drop_table('audit_events')
