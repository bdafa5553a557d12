"""Restriction alerts for enrollments an import recorded despite a restriction: a new event and email type.

Revision ID: 0012_wiring
Revises: 0009_scoping
"""
from alembic import op

revision = "0012_wiring"
down_revision = "0009_scoping"
branch_labels = None
depends_on = None

# SQLite batch mode reflects the table it rebuilds; the tables it points at need not be reflected.
NO_REFERENCED_TABLES = {"resolve_fks": False}
OLD_EVENTS = "event IS NULL OR event IN ('new', 'expiring')"
NEW_EVENTS = "event IS NULL OR event IN ('new', 'expiring', 'enrolled')"
OLD_EMAIL_TYPES = "email_type IN ('report', 'restriction_new', 'restriction_expiring')"
NEW_EMAIL_TYPES = "email_type IN ('report', 'restriction_new', 'restriction_expiring', 'restriction_enrolled')"


def _replace_checks(events: str, email_types: str) -> None:
    with op.batch_alter_table("notifications", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_notifications_event_valid"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_notifications_event_valid"), events)
    with op.batch_alter_table("email_logs", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_email_logs_email_type_valid"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_email_logs_email_type_valid"), email_types)


def upgrade():
    _replace_checks(NEW_EVENTS, NEW_EMAIL_TYPES)


def downgrade():
    op.execute("DELETE FROM notifications WHERE event = 'enrolled'")
    op.execute("DELETE FROM email_logs WHERE email_type = 'restriction_enrolled'")
    _replace_checks(OLD_EVENTS, OLD_EMAIL_TYPES)
