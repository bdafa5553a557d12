"""Enrollments made despite a service restriction: the reason, and a flag for review.

Revision ID: 0009_scoping
Revises: 0011_client_search
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_scoping"
down_revision = "0011_client_search"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("client_program_enrollments", sa.Column("override_reason", sa.Text(), nullable=True))
    op.add_column("client_program_enrollments", sa.Column(
        "flagged_for_review", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(op.f("ix_client_program_enrollments_flagged_for_review"), "client_program_enrollments",
                    ["flagged_for_review"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_client_program_enrollments_flagged_for_review"), table_name="client_program_enrollments")
    with op.batch_alter_table("client_program_enrollments") as batch_op:
        batch_op.drop_column("flagged_for_review")
        batch_op.drop_column("override_reason")
