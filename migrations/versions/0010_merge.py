"""Merged clients: a merged-away record points at the record it was merged into.

A survivor that merged-away records point at cannot be deleted (no ON DELETE action):
deleting it would cut the trail that lets the merge be understood and undone.

On SQLite the column and its rules are added in place: a batch (copy-and-rename) of the
clients table would drop its expression indexes, which SQLite cannot reflect.

Revision ID: 0010_merge
Revises: 0007_ingest (re-chained after merging the ingest branch)
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_merge"
down_revision = "0007_ingest"
branch_labels = None
depends_on = None

CHECK = "merged_into_id IS NULL OR merged_into_id <> id"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE clients ADD COLUMN merged_into_id CHAR(32) "
            "CONSTRAINT fk_clients_merged_into_id_clients REFERENCES clients (id) "
            f"CONSTRAINT ck_clients_not_merged_into_itself CHECK ({CHECK})"
        )
    else:
        op.add_column("clients", sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f("fk_clients_merged_into_id_clients"), "clients", "clients",
                              ["merged_into_id"], ["id"])
        op.create_check_constraint(op.f("ck_clients_not_merged_into_itself"), "clients", CHECK)
    op.create_index(op.f("ix_clients_merged_into_id"), "clients", ["merged_into_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_clients_merged_into_id"), table_name="clients")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place once no index refers to it; a column with a
        # foreign key cannot be dropped, so the rule goes with a table rebuild by hand.
        raise NotImplementedError("Downgrading 0010_merge on SQLite is not supported; restore a backup instead.")
    op.drop_constraint(op.f("ck_clients_not_merged_into_itself"), "clients", type_="check")
    op.drop_constraint(op.f("fk_clients_merged_into_id_clients"), "clients", type_="foreignkey")
    op.drop_column("clients", "merged_into_id")
