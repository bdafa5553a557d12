"""An enrollment keeps the referral source an import read for it.

EMHware's "Receiving Services" export fills Referral Source on every row but writes no
intake, and the referral source was stored only on an intake, so the import dropped it.
It now lands on the enrollment the row writes (and on the intake too when there is one).

Revision ID: 0017_import_link (Alembic allows no hyphen in an id)
Revises: 0016_client_date_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_import_link"
down_revision = "0018_link_model"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("client_program_enrollments", sa.Column("referral_source", sa.String(255), nullable=True))


def downgrade():
    op.drop_column("client_program_enrollments", "referral_source")
