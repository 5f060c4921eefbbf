"""trigram index for item name search

`q` on the item list is a case-insensitive substring of the name (ILIKE '%q%'), which no
B-tree serves: an admin searching everyone's items read the whole table (0.3-0.8 s at
1,000,000 items). A GIN index of the name's trigrams (pg_trgm) answers ILIKE with leading
wildcards, escaped `%`, `_` and `\\` included. Partial, like the list's other indexes: the
list reads live items only.

The list is ordered by (created_at, id) with a LIMIT, so for each term the planner chooses
between walking ix_items_created until a page of matches is found (fast for common terms,
the whole table for rare ones) and the trigram index (every match fetched and sorted: fast
for rare terms, slow for common ones). It chooses from its estimate of how many names match,
which it makes by matching the pattern against the sampled names in the column's statistics.
With the default sample (100 histogram entries) a term never sampled was estimated like a
common one or the other way round, and either mistake cost 60-600 ms at 1,000,000 items. The
name column's statistics target goes to the maximum (10,000: a sample of 3,000,000 rows),
which kept every measured term under 10 ms for about 4 ms of planning per search (only
statements with a pattern on the name pay it).

PostgreSQL only: SQLite (the embedded default) has no trigram index and keeps scanning,
which at its scale is fine; there this migration does nothing. The index is built
CONCURRENTLY, outside the migration's transaction, because the running version keeps writing
items during the rollout (a build that failed leaves an invalid index, which the next run
drops and builds again). The extension is created if missing (pg_trgm is a trusted extension:
the database owner may create it) and kept on downgrade, where something else may use it.

Revision ID: 3c5d9e1a7b42
Revises: febaf60876d8
Create Date: 2026-12-06 03:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c5d9e1a7b42'
down_revision = 'febaf60876d8'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_context().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.execute('ALTER TABLE items ALTER COLUMN name SET STATISTICS 10000')
    with op.get_context().autocommit_block():
        # No statement timeout here: the migration runner lifts it (8 s at 1,000,000 items, idle).
        op.execute('DROP INDEX CONCURRENTLY IF EXISTS ix_items_name_trgm')
        op.create_index(
            'ix_items_name_trgm',
            'items',
            ['name'],
            unique=False,
            postgresql_using='gin',
            postgresql_ops={'name': 'gin_trgm_ops'},
            postgresql_where=sa.text('deleted_at IS NULL'),
            postgresql_concurrently=True,
        )
        op.execute('ANALYZE items (name)')  # the new sample now, not at autovacuum's next visit


def downgrade():
    if op.get_context().dialect.name != 'postgresql':
        return
    with op.get_context().autocommit_block():
        op.execute('DROP INDEX CONCURRENTLY IF EXISTS ix_items_name_trgm')
    op.execute('ALTER TABLE items ALTER COLUMN name SET STATISTICS -1')
