"""item tags

A table of its own: each row one tag on one item. The unique constraint on (item_id, name)
keeps a tag once per item and is the index every tag query and the cascade from a deleted
item use (item_id leads it).

Revision ID: ad1b4338349a
Revises: 3c5d9e1a7b42
Create Date: 2026-12-06 08:19:07.783920

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ad1b4338349a'
down_revision = '3c5d9e1a7b42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('item_tags',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_item_tags_item_id_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_tags')),
    sa.UniqueConstraint('item_id', 'name', name='uq_item_tags_item_name')
    )


def downgrade():
    op.drop_table('item_tags')
