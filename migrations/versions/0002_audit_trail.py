"""Audit trail: append-only audit_logs, client link for History, more actions.

The trigger makes the trail append-only for every database user, whatever code runs:
UPDATE, DELETE and TRUNCATE on audit_logs are refused by the database itself. Because of
that, the staff link can no longer be cleared when a staff member is deleted; such staff
are deactivated instead (RESTRICT).

Revision ID: 0002_audit_trail
Revises: 8fdb7c876c56
"""
import warnings
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

revision = "0002_audit_trail"
down_revision = "8fdb7c876c56"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("create", "update", "delete", "archive", "restore", "import", "approve", "decline", "merge",
               "login", "logout")
NEW_ACTIONS = OLD_ACTIONS + ("withdraw", "unmerge", "check", "override")


def _in(values):
    return "action IN (" + ", ".join(f"'{v}'" for v in values) + ")"


PG_FUNCTION = """
CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGERS = (
    "CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs "
    "FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only()",
    "CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only()",
)
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER audit_logs_no_{op_name.lower()} BEFORE {op_name} ON audit_logs "
    f"BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only: {op_name} is not allowed'); END"
    for op_name in ("UPDATE", "DELETE")
)


@contextmanager
def _batch_audit_logs():
    """SQLite rebuilds the table; reflecting staff (the foreign key's target) warns about its
    expression index, which this migration does not touch."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index",
                                sa.exc.SAWarning)
        with op.batch_alter_table("audit_logs") as batch_op:
            yield batch_op


def upgrade():
    with _batch_audit_logs() as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.Uuid(), nullable=True))
        batch_op.create_index(op.f("ix_audit_logs_client_changed_at"), ["client_id", "changed_at"], unique=False)
        batch_op.drop_constraint(op.f("ck_audit_logs_action_valid"), type_="check")
        batch_op.create_check_constraint("action_valid", _in(NEW_ACTIONS))
        batch_op.drop_constraint(op.f("fk_audit_logs_changed_by_id_staff"), type_="foreignkey")
        batch_op.create_foreign_key(op.f("fk_audit_logs_changed_by_id_staff"), "staff", ["changed_by_id"], ["id"],
                                    ondelete="RESTRICT")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs")
        op.execute("DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs")
        op.execute("DROP FUNCTION IF EXISTS audit_logs_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_logs_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_logs_no_delete")
    with _batch_audit_logs() as batch_op:
        batch_op.drop_constraint(op.f("fk_audit_logs_changed_by_id_staff"), type_="foreignkey")
        batch_op.create_foreign_key(op.f("fk_audit_logs_changed_by_id_staff"), "staff", ["changed_by_id"], ["id"],
                                    ondelete="SET NULL")
        batch_op.drop_constraint(op.f("ck_audit_logs_action_valid"), type_="check")
        batch_op.create_check_constraint("action_valid", _in(OLD_ACTIONS))
        batch_op.drop_index("ix_audit_logs_client_changed_at")
        batch_op.drop_column("client_id")
