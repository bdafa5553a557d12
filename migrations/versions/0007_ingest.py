"""Ingestion: staged import rows, per-source import settings, program aliases, matching keys on clients.

* import_rows: every row of an imported file is staged here before anything canonical is
  written; rejected rows and rows waiting for duplicate review stay for the rejects file.
* import_source_settings / import_column_titles: the administrator's date order and column
  titles per source system (defaults live in app/services/ingest/column_maps.py).
* program_aliases: other names a source system uses for a program (exact match only).
* clients.block_*_key: indexed blocking keys so duplicate matching finds candidates by
  lookup; existing clients are filled in here.
* client_duplicates: a review item may pair a client with an imported row that was not
  written (import_row_id, incoming_key) instead of with a second client.
* client_upload_logs.status: "skipped" for a file already imported (same content hash).

Revision ID: 0007_ingest
Revises: 0004_jobs
"""
import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_ingest"
down_revision = "0004_jobs"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
SOURCES = "source_system IN ('SMIS', 'EMHware', 'FFAI')"
OLD_UPLOAD_STATUSES = "status IN ('queued', 'running', 'success', 'partial', 'failed')"
NEW_UPLOAD_STATUSES = "status IN ('queued', 'running', 'success', 'partial', 'failed', 'skipped')"
KEY_COLUMNS = ("block_last_key", "block_names_key", "block_prefix_key")


@contextmanager
def _batch(table):
    """SQLite rebuilds the table; reflecting its foreign keys' targets warns about expression indexes
    that this migration does not touch."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index",
                                sa.exc.SAWarning)
        with op.batch_alter_table(table) as batch_op:
            yield batch_op


def _timestamps():
    return [sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False)]


def _fill_match_keys():
    from app.names import match_keys

    bind = op.get_bind()
    clients = sa.table("clients", sa.column("id", sa.Uuid()), sa.column("first_name"), sa.column("last_name"),
                       sa.column("dob", sa.Date()), *(sa.column(name) for name in KEY_COLUMNS))
    update = (clients.update().where(clients.c.id == sa.bindparam("client_id"))
              .values({name: sa.bindparam(name) for name in KEY_COLUMNS}))
    last_id = None
    while True:
        query = sa.select(clients.c.id, clients.c.first_name, clients.c.last_name, clients.c.dob)
        if last_id is not None:
            query = query.where(clients.c.id > last_id)
        rows = bind.execute(query.order_by(clients.c.id).limit(5000)).all()
        if not rows:
            return
        params = []
        for row in rows:
            keys = match_keys(row.first_name, row.last_name, row.dob)
            params.append({"client_id": row.id, "block_last_key": keys.last_key, "block_names_key": keys.names_key,
                           "block_prefix_key": keys.prefix_key})
        bind.execute(update, params)
        last_id = rows[-1].id


def upgrade():
    op.create_table(
        "import_column_titles",
        sa.Column("source_system", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=50), nullable=False),
        sa.Column("titles", sa.Text(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(SOURCES, name=op.f("ck_import_column_titles_source_system_valid")),
        sa.CheckConstraint("length(trim(titles)) > 0", name=op.f("ck_import_column_titles_titles_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_column_titles")),
        sa.UniqueConstraint("source_system", "field", name="uq_import_column_titles_source_field"),
    )
    op.create_table(
        "import_source_settings",
        sa.Column("source_system", sa.String(length=20), nullable=False),
        sa.Column("date_order", sa.String(length=3), server_default="YMD", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("date_order IN ('YMD', 'MDY', 'DMY')",
                           name=op.f("ck_import_source_settings_date_order_valid")),
        sa.CheckConstraint(SOURCES, name=op.f("ck_import_source_settings_source_system_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_source_settings")),
        sa.UniqueConstraint("source_system", name=op.f("uq_import_source_settings_source_system")),
    )
    op.create_table(
        "import_rows",
        sa.Column("upload_log_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("cells", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), server_default="staged", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("details", JSON, server_default="{}", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("status IN ('staged', 'inserted', 'updated', 'unchanged', 'rejected', 'review')",
                           name=op.f("ck_import_rows_status_valid")),
        sa.CheckConstraint("row_number > 0", name=op.f("ck_import_rows_row_number_positive")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_import_rows_client_id_clients"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["upload_log_id"], ["client_upload_logs.id"],
                                name=op.f("fk_import_rows_upload_log_id_client_upload_logs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rows")),
        sa.UniqueConstraint("upload_log_id", "row_number", name="uq_import_rows_log_row"),
    )
    op.create_index(op.f("ix_import_rows_client_id"), "import_rows", ["client_id"], unique=False)
    op.create_index("ix_import_rows_log_status", "import_rows", ["upload_log_id", "status"], unique=False)

    op.create_table(
        "program_aliases",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("length(trim(alias)) > 0", name=op.f("ck_program_aliases_alias_not_blank")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_program_aliases_program_id_programs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_aliases")),
    )
    op.create_index(op.f("ix_program_aliases_program_id"), "program_aliases", ["program_id"], unique=False)
    op.create_index("uq_program_aliases_alias_lower", "program_aliases", [sa.text("lower(alias)")], unique=True)

    with _batch("client_duplicates") as batch_op:
        batch_op.add_column(sa.Column("import_row_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("incoming_key", sa.String(length=200), nullable=True))
        batch_op.alter_column("duplicate_client_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(op.f("ix_client_duplicates_import_row_id"), ["import_row_id"], unique=False)
        batch_op.create_unique_constraint("uq_client_duplicates_incoming", ["primary_client_id", "incoming_key"])
        batch_op.create_foreign_key(op.f("fk_client_duplicates_import_row_id_import_rows"), "import_rows",
                                    ["import_row_id"], ["id"], ondelete="CASCADE")
        batch_op.create_check_constraint("has_other_side",
                                         "duplicate_client_id IS NOT NULL OR import_row_id IS NOT NULL")

    with _batch("client_upload_logs") as batch_op:
        batch_op.drop_constraint(op.f("ck_client_upload_logs_status_valid"), type_="check")
        batch_op.create_check_constraint("status_valid", NEW_UPLOAD_STATUSES)

    for name in KEY_COLUMNS:
        op.add_column("clients", sa.Column(name, sa.String(length=20), nullable=True))
    _fill_match_keys()
    for name in KEY_COLUMNS:
        op.create_index(op.f(f"ix_clients_{name}"), "clients", [name], unique=False)


def downgrade():
    for name in KEY_COLUMNS:
        op.drop_index(op.f(f"ix_clients_{name}"), table_name="clients")
    for name in KEY_COLUMNS:
        # Not batch mode: rebuilding clients on SQLite would drop its expression indexes.
        op.execute(f"ALTER TABLE clients DROP COLUMN {name}")

    with _batch("client_upload_logs") as batch_op:
        batch_op.drop_constraint(op.f("ck_client_upload_logs_status_valid"), type_="check")
        batch_op.create_check_constraint("status_valid", OLD_UPLOAD_STATUSES)

    op.execute("DELETE FROM client_duplicates WHERE duplicate_client_id IS NULL")
    with _batch("client_duplicates") as batch_op:
        batch_op.drop_constraint(op.f("ck_client_duplicates_has_other_side"), type_="check")
        batch_op.drop_constraint(op.f("fk_client_duplicates_import_row_id_import_rows"), type_="foreignkey")
        batch_op.drop_constraint("uq_client_duplicates_incoming", type_="unique")
        batch_op.drop_index(op.f("ix_client_duplicates_import_row_id"))
        batch_op.alter_column("duplicate_client_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("incoming_key")
        batch_op.drop_column("import_row_id")

    op.drop_index("uq_program_aliases_alias_lower", table_name="program_aliases")
    op.drop_index(op.f("ix_program_aliases_program_id"), table_name="program_aliases")
    op.drop_table("program_aliases")
    op.drop_index("ix_import_rows_log_status", table_name="import_rows")
    op.drop_index(op.f("ix_import_rows_client_id"), table_name="import_rows")
    op.drop_table("import_rows")
    op.drop_table("import_source_settings")
    op.drop_table("import_column_titles")
