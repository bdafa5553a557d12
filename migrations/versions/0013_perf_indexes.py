"""An index of open enrollments by program and start date, for the pages that ask who is enrolled now.

The Vacancy Tracker counts, and a program's page lists, the enrollments active today; the
open-ended ones are a third of all enrollments and are read here without the rest. On
PostgreSQL the index also carries the client, so counting clients never reads the table.

Revision ID: 0013_perf_indexes
Revises: 0012_wiring
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_perf_indexes"
down_revision = "0012_wiring"
branch_labels = None
depends_on = None

OPEN_ENROLLMENT_SQL = "end_date IS NULL AND is_archived IS false"


def upgrade():
    op.create_index("ix_client_program_enrollments_open", "client_program_enrollments", ["program_id", "start_date"],
                    postgresql_include=["client_id"], postgresql_where=sa.text(OPEN_ENROLLMENT_SQL),
                    sqlite_where=sa.text(OPEN_ENROLLMENT_SQL))


def downgrade():
    op.drop_index("ix_client_program_enrollments_open", table_name="client_program_enrollments")
