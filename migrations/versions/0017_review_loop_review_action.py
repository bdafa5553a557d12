"""Audit action "review": a reviewer's answer to a possible duplicate is recorded as itself.

Same person, a new person, not the same person, leave it: each answer is one audit row
naming the item, the answer and who gave it, besides the rows it changes. The trail is
append-only (0002): on SQLite the table is rebuilt to change its check, so its triggers are
put back afterwards.

Revision ID: 0017_review_loop
Revises: 0016_client_date_indexes
"""
import warnings
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

revision = "0017_review_loop"
down_revision = "0016_client_date_indexes"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("create", "update", "delete", "archive", "restore", "import", "approve", "decline", "merge",
               "login", "logout", "withdraw", "unmerge", "check", "override")
NEW_ACTIONS = OLD_ACTIONS + ("review",)

SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER audit_logs_no_{op_name.lower()} BEFORE {op_name} ON audit_logs "
    f"BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only: {op_name} is not allowed'); END"
    for op_name in ("UPDATE", "DELETE")
)


def _in(values):
    return "action IN (" + ", ".join(f"'{v}'" for v in values) + ")"


@contextmanager
def _sqlite_rebuild():
    """SQLite rebuilds the table for a new check; its append-only triggers go with the old one."""
    op.execute("DROP TRIGGER IF EXISTS audit_logs_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_logs_no_delete")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index",
                                sa.exc.SAWarning)
        with op.batch_alter_table("audit_logs") as batch_op:
            yield batch_op
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def _set_actions(actions):
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_audit_logs_action_valid"), "audit_logs", type_="check")
        op.create_check_constraint("action_valid", "audit_logs", _in(actions))
        return
    with _sqlite_rebuild() as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_logs_action_valid"), type_="check")
        batch_op.create_check_constraint("action_valid", _in(actions))


def upgrade():
    _set_actions(NEW_ACTIONS)


def downgrade():
    _set_actions(OLD_ACTIONS)
