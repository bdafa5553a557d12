"""An export's access row lists the clients that left in the file, instead of one log row per client.

An export of thousands of clients wrote thousands of full log rows, each with four index
entries, and cost a third of the export's time (bench/access_log.py). Now a read may list
its clients in ``client_ids`` (``uuid[]`` with a GIN index on PostgreSQL, a JSON list on
SQLite) and leave ``client_id`` empty; exactly one of the two is set. Rows already written
stay as they are: the readers (app/services/access_log.py) read both forms.

On SQLite the table is rebuilt to change the column, which drops its triggers: they are
created again, the same as migration 0023's.

Revision ID: 0028_access_export
Revises: 0027_search
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0028_access_export"
down_revision = "0027_search"
branch_labels = None
depends_on = None

CHECK = "(client_id IS NULL) <> (client_ids IS NULL)"
# SQLite batch mode reflects the table it rebuilds; the staff table it points at need not be.
NO_REFERENCED_TABLES = {"resolve_fks": False}
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER client_access_log_no_{op_name.lower()} BEFORE {op_name} ON client_access_log "
    f"BEGIN SELECT RAISE(ABORT, 'client_access_log is append-only: {op_name} is not allowed'); END"
    for op_name in ("UPDATE", "DELETE")
)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    list_type = postgresql.ARRAY(sa.Uuid()) if postgres else sa.JSON()
    with op.batch_alter_table("client_access_log", reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.add_column(sa.Column("client_ids", list_type, nullable=True))
        batch_op.alter_column("client_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_check_constraint(op.f("ck_client_access_log_one_client_or_a_list"), CHECK)
    # Only rows that list clients. A small pending list (256 kB, bench/access_log.py): without one each
    # export inserted 2,700 entries one by one (10 ms); with PostgreSQL's default 4 MB every "Who has
    # looked" scanned up to 512 unmerged pages (1.4 ms at 480).
    op.create_index("ix_client_access_log_client_ids", "client_access_log", ["client_ids"],
                    postgresql_using="gin", postgresql_with={"fastupdate": "on", "gin_pending_list_limit": "256"},
                    postgresql_where=sa.text("client_ids IS NOT NULL"), sqlite_where=sa.text("client_ids IS NOT NULL"))
    if postgres:
        # A list of random ids does not compress: storing it as it is spares each export the attempt (3 ms).
        op.execute("ALTER TABLE client_access_log ALTER COLUMN client_ids SET STORAGE EXTERNAL")
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    """Only while no read lists its clients: the log is append-only, so listed rows cannot be split back."""
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_client_access_log_client_ids", table_name="client_access_log")
    with op.batch_alter_table("client_access_log", reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.drop_constraint(op.f("ck_client_access_log_one_client_or_a_list"), type_="check")
        batch_op.alter_column("client_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("client_ids")
    if not postgres:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
