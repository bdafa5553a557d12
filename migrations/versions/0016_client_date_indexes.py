"""A client's enrollments by start date and intakes by date, in place of the indexes by client alone.

The Organizational Summary asks, of each served client none of whose served enrollments
began before the period, whether any enrollment or intake did (DEFINITIONS["new"]): tens of
thousands of look-ups a year at a million clients. By client alone each look-up reads the
client's rows from the table; with the date in the key, and on PostgreSQL the program (and
for enrollments the archived flag) carried in the index, it is answered from the index
alone. The new indexes replace the ones by client (any look-up by client uses them the same
way), so a write still maintains one index per table for the client.

Revision ID: 0016_client_date_indexes
Revises: 0015_inbox_index
"""
from alembic import op

revision = "0016_client_date_indexes"
down_revision = "0015_inbox_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_client_program_enrollments_client_start", "client_program_enrollments",
                    ["client_id", "start_date"], postgresql_include=["program_id", "is_archived"])
    op.drop_index("ix_client_program_enrollments_client_id", table_name="client_program_enrollments")
    op.create_index("ix_intakes_client_date", "intakes", ["client_id", "intake_date"],
                    postgresql_include=["program_id"])
    op.drop_index("ix_intakes_client_id", table_name="intakes")


def downgrade():
    op.create_index("ix_intakes_client_id", "intakes", ["client_id"])
    op.drop_index("ix_intakes_client_date", table_name="intakes")
    op.create_index("ix_client_program_enrollments_client_id", "client_program_enrollments", ["client_id"])
    op.drop_index("ix_client_program_enrollments_client_start", table_name="client_program_enrollments")
