"""An index of the pending changes by when they were proposed, for the approvals inbox.

The inbox lists pending changes oldest first. Without this index each page sorted every
pending change after joining both staff columns (36 ms at 10,000 pending); with it the
page reads its 25 rows in order. Partial, so the years of approved and declined changes
that pile up behind it never make it bigger.

Revision ID: 0015_inbox_index
Revises: 0014_visibility_index
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_inbox_index"
down_revision = "0014_visibility_index"
branch_labels = None
depends_on = None

PENDING_ONLY_SQL = "status = 'pending'"


def upgrade():
    op.create_index("ix_pending_changes_pending_created_at", "pending_changes", ["created_at"],
                    postgresql_where=sa.text(PENDING_ONLY_SQL), sqlite_where=sa.text(PENDING_ONLY_SQL))


def downgrade():
    op.drop_index("ix_pending_changes_pending_created_at", table_name="pending_changes")
