"""Who looked at whom: client_access_log, append-only like audit_logs.

One row per client whose data a person was shown (a record page, an edit form, an export,
a report drill-down, a door check, an emailed report). As with the audit trail, the
database itself refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the log, for
every database user, whatever code runs; the readers in it are kept (RESTRICT).

Revision ID: 0023_access_log
Revises: 0021_locking
"""
import sqlalchemy as sa
from alembic import op

revision = "0023_access_log"
down_revision = "0021_locking"
branch_labels = None
depends_on = None

KINDS = ("details", "as_of", "edit_form", "drill_down", "export", "restriction_check", "emailed_report")

PG_FUNCTION = """
CREATE FUNCTION client_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'client_access_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGERS = (
    "CREATE TRIGGER client_access_log_append_only BEFORE UPDATE OR DELETE ON client_access_log "
    "FOR EACH ROW EXECUTE FUNCTION client_access_log_append_only()",
    "CREATE TRIGGER client_access_log_no_truncate BEFORE TRUNCATE ON client_access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION client_access_log_append_only()",
)
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER client_access_log_no_{op_name.lower()} BEFORE {op_name} ON client_access_log "
    f"BEGIN SELECT RAISE(ABORT, 'client_access_log is append-only: {op_name} is not allowed'); END"
    for op_name in ("UPDATE", "DELETE")
)


def upgrade():
    op.create_table(
        "client_access_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("accessed_at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(),
                  nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("path", sa.String(500), nullable=True),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
                           name=op.f("ck_client_access_log_kind_valid")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_client_access_log_staff_id_staff"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_access_log")),
    )
    op.create_index("ix_client_access_log_client_accessed_at", "client_access_log", ["client_id", "accessed_at"])
    op.create_index("ix_client_access_log_staff_accessed_at", "client_access_log", ["staff_id", "accessed_at"])
    op.create_index("ix_client_access_log_accessed_at", "client_access_log", ["accessed_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS client_access_log_no_truncate ON client_access_log")
        op.execute("DROP TRIGGER IF EXISTS client_access_log_append_only ON client_access_log")
        op.execute("DROP FUNCTION IF EXISTS client_access_log_append_only()")
    op.drop_table("client_access_log")
