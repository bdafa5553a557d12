"""Merged clients: a merged-away record points at the record it was merged into.

Revision ID: 0010_merge
Revises: 0002_audit_trail
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_merge"
down_revision = "0002_audit_trail"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_clients_merged_into_id"), ["merged_into_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_clients_merged_into_id_clients"), "clients",
                                    ["merged_into_id"], ["id"], ondelete="SET NULL")
        batch_op.create_check_constraint(batch_op.f("ck_clients_not_merged_into_itself"), "merged_into_id IS NULL OR merged_into_id <> id")


def downgrade():
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_clients_not_merged_into_itself"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_clients_merged_into_id_clients"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_clients_merged_into_id"))
        batch_op.drop_column("merged_into_id")
