"""Client photos: the name of the stored, re-encoded photo file of a client.

The photo itself lives in CLIENT_PHOTO_DIR, never in a public folder; the column names
the current file, so a new upload is a change the audit trail records.

Revision ID: 0026_conveniences
Revises: 0025_reports
"""
import sqlalchemy as sa
from alembic import op

revision = "0026_conveniences"
down_revision = "0025_reports"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("clients", sa.Column("photo_file", sa.String(100), nullable=True))


def downgrade():
    op.drop_column("clients", "photo_file")
