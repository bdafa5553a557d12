"""Who receives emailed reports, what was sent, in-app notifications and restriction alert subscriptions."""

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import EMAIL_STATUSES, EMAIL_TYPES, REPORT_FREQUENCIES, RESTRICTION_EVENTS
from app.extensions import db
from app.models.base import JSONType, Timestamps, UUIDKey, Versioned, enum_check


class EmailRecipient(UUIDKey, Timestamps, Versioned, db.Model):
    __tablename__ = "email_recipients"

    name: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str] = mapped_column(sa.String(255))
    frequency: Mapped[str] = mapped_column(sa.String(20), default="daily", server_default="daily")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true(), index=True)
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str | None] = mapped_column(sa.Text)

    department = relationship("Department")

    __table_args__ = (
        sa.Index("uq_email_recipients_email_lower", sa.func.lower(sa.text("email")), unique=True),
        sa.CheckConstraint("email LIKE '%_@_%'", name="email_valid"),
        sa.CheckConstraint(enum_check("frequency", REPORT_FREQUENCIES), name="frequency_valid"),
    )

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class EmailLog(UUIDKey, Timestamps, db.Model):
    """One email CCD sends, from the moment it is built until it is sent or given up on.

    ``idempotency_key`` names what the email is for (this recipient's report for this
    period, this staff member's alert about this restriction): the unique index is what
    stops a schedule that fires twice from sending twice. ``message`` holds the built
    message until it has gone out, so a failed send loses nothing and can be tried again.
    """

    __tablename__ = "email_logs"

    recipient_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("email_recipients.id", ondelete="SET NULL"), index=True
    )
    recipient_email: Mapped[str] = mapped_column(sa.String(255))
    email_type: Mapped[str] = mapped_column(sa.String(30), default="report", server_default="report", index=True)
    frequency: Mapped[str | None] = mapped_column(sa.String(20))
    period_start: Mapped[date | None]
    period_end: Mapped[date | None] = mapped_column(index=True)
    subject: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", server_default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    body_bytes: Mapped[int] = mapped_column(default=0, server_default="0")
    attachment_bytes: Mapped[int] = mapped_column(default=0, server_default="0")
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    message: Mapped[str | None] = mapped_column(sa.Text)
    # The client an alert names in its subject and key: the row is seen only by those who see that client.
    client_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("clients.id", ondelete="SET NULL"), index=True)

    recipient = relationship("EmailRecipient")

    __table_args__ = (
        sa.CheckConstraint(enum_check("status", EMAIL_STATUSES), name="status_valid"),
        sa.CheckConstraint(enum_check("email_type", EMAIL_TYPES), name="email_type_valid"),
    )

    def __str__(self) -> str:
        return f"{self.subject} → {self.recipient_email} ({self.status})"


class Notification(UUIDKey, Timestamps, db.Model):
    __tablename__ = "notifications"

    staff_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(sa.String(100), default="service_restriction", index=True)
    title: Mapped[str] = mapped_column(sa.String(255))
    message: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.String(500))
    data: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    is_read: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    restriction_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("service_restrictions.id", ondelete="SET NULL"), index=True
    )
    event: Mapped[str | None] = mapped_column(sa.String(20))

    staff = relationship("Staff")
    restriction = relationship("ServiceRestriction")

    __table_args__ = (
        sa.Index("ix_notifications_staff_unread", "staff_id", "is_read", "created_at"),
        # Each person hears about a restriction once per event, however often the jobs run.
        sa.UniqueConstraint("staff_id", "restriction_id", "event", name="uq_notifications_staff_restriction_event"),
        sa.CheckConstraint("event IS NULL OR " + enum_check("event", RESTRICTION_EVENTS), name="event_valid"),
    )

    def __str__(self) -> str:
        return self.title


class RestrictionNotificationSubscription(UUIDKey, Timestamps, Versioned, db.Model):
    __tablename__ = "restriction_notification_subscriptions"

    staff_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(255))
    notify_new: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    notify_expiring: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    expiring_within_days: Mapped[int] = mapped_column(default=7, server_default="7")
    by_email: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    in_app: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    staff = relationship("Staff")

    __table_args__ = (
        sa.CheckConstraint("expiring_within_days BETWEEN 1 AND 365", name="expiring_window_range"),
        sa.CheckConstraint("email IS NULL OR email LIKE '%_@_%'", name="email_valid"),
    )

    def __str__(self) -> str:
        return f"Restriction alerts for {self.staff}"
