"""An index of (program, client) over every enrollment, for the rule of which clients a person may see.

Staff, Managers and Leaders see the clients ever enrolled in their programs. Their client
list, its count and every scoped page ask for that set; from this index it is read
without touching the table (an index-only scan), where before it took a pass over every
enrollment (about a second at 2.5 million enrollments).

Revision ID: 0014_visibility_index
Revises: 0013_perf_indexes
"""
from alembic import op

revision = "0014_visibility_index"
down_revision = "0013_perf_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_client_program_enrollments_program_client", "client_program_enrollments",
                    ["program_id", "client_id"])


def downgrade():
    op.drop_index("ix_client_program_enrollments_program_client", table_name="client_program_enrollments")
