"""Optimistic locking: a version on every record people edit, and on a proposal the version it saw.

A Coordinator's edit form opened before an approval (or an import, a merge, another
screen) saved its stale values over the newer ones with "Record was successfully saved."
Each editable row now carries a version that every update raises by one; a save made from
a form opened at an older version is refused. Existing rows start at 1. A proposal keeps
the version of the record it was made against, so the approvals inbox can say the record
changed since (none for a proposed create, or a proposal made before this migration).

Revision ID: 0021_locking
Revises: 0020_trust_leaks
"""
import sqlalchemy as sa
from alembic import op

revision = "0021_locking"
down_revision = "0020_trust_leaks"
branch_labels = None
depends_on = None

VERSIONED_TABLES = (
    "choice_options", "client_duplicates", "client_program_enrollments", "client_source_ids", "clients",
    "department_leader_assignments", "departments", "discharges", "email_recipients", "import_column_titles",
    "import_source_settings", "intakes", "program_aliases", "program_capacities", "program_manager_assignments",
    "program_staff", "programs", "restriction_notification_subscriptions", "roles", "service_restrictions", "staff",
    "staff_client_assignments", "staff_program_assignments", "staff_roles", "subprograms", "users",
)


def upgrade():
    for table in VERSIONED_TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("pending_changes", sa.Column("base_version", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("pending_changes", "base_version")
    for table in VERSIONED_TABLES:
        op.drop_column(table, "version")
