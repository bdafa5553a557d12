"""scheduled jobs: email idempotency and kept messages, restriction notifications once per event

Revision ID: 0004_jobs
Revises: 0005_security
Create Date: 2026-11-22 04:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0004_jobs"
down_revision = "0005_security"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('queued', 'sent', 'failed')"
NEW_STATUSES = "status IN ('queued', 'sending', 'sent', 'failed')"
# SQLite batch mode reflects the table it rebuilds; reflecting the tables it points at too
# only warns about their expression indexes, which SQLite cannot reflect and need not.
NO_REFERENCED_TABLES = {"resolve_fks": False}
EMAIL_TYPES = "email_type IN ('report', 'restriction_new', 'restriction_expiring')"


def upgrade():
    with op.batch_alter_table("email_logs", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_email_logs_idempotency_key"), ["idempotency_key"])
        batch_op.drop_constraint(batch_op.f("ck_email_logs_status_valid"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_email_logs_status_valid"), NEW_STATUSES)
        batch_op.create_check_constraint(batch_op.f("ck_email_logs_email_type_valid"), EMAIL_TYPES)

    with op.batch_alter_table("notifications", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.add_column(sa.Column("restriction_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("event", sa.String(length=20), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_restriction_id_service_restrictions"), "service_restrictions",
            ["restriction_id"], ["id"], ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_notifications_restriction_id"), ["restriction_id"], unique=False)
        batch_op.create_unique_constraint(
            "uq_notifications_staff_restriction_event", ["staff_id", "restriction_id", "event"]
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_notifications_event_valid"), "event IS NULL OR event IN ('new', 'expiring')"
        )


def downgrade():
    with op.batch_alter_table("notifications", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_notifications_event_valid"), type_="check")
        batch_op.drop_constraint("uq_notifications_staff_restriction_event", type_="unique")
        batch_op.drop_index(batch_op.f("ix_notifications_restriction_id"))
        batch_op.drop_constraint(batch_op.f("fk_notifications_restriction_id_service_restrictions"),
                                 type_="foreignkey")
        batch_op.drop_column("event")
        batch_op.drop_column("restriction_id")

    op.execute("UPDATE email_logs SET status = 'queued' WHERE status = 'sending'")
    with op.batch_alter_table("email_logs", schema=None, reflect_kwargs=NO_REFERENCED_TABLES) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_email_logs_email_type_valid"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_email_logs_status_valid"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_email_logs_status_valid"), OLD_STATUSES)
        batch_op.drop_constraint(batch_op.f("uq_email_logs_idempotency_key"), type_="unique")
        batch_op.drop_column("message")
        batch_op.drop_column("idempotency_key")
