"""The history of who changed what (audit_logs) and changes waiting for approval (pending_changes)."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.choices import AUDIT_ACTIONS, PENDING_CHANGE_STATUSES
from app.extensions import db
from app.models.base import JSONType, Timestamps, UUIDKey, enum_check


class AuditLog(UUIDKey, Timestamps, db.Model):
    __tablename__ = "audit_logs"

    entity: Mapped[str] = mapped_column(sa.String(100))
    entity_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(sa.String(20), index=True)
    # The trail is append-only, so the people in it are kept: a staff member who changed
    # records is deactivated, never deleted.
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    # Who acted when no staff member did: the system job, import or CLI command by name.
    actor_name: Mapped[str | None] = mapped_column(sa.String(100))
    changed_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(), index=True
    )
    diff_json: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    # The client a record belongs to (the client itself, or an enrollment's client), so a
    # client's History is one indexed query. No foreign key: history outlives the record.
    client_id: Mapped[uuid.UUID | None] = mapped_column()

    changed_by = relationship("Staff")

    __table_args__ = (
        sa.CheckConstraint(enum_check("action", AUDIT_ACTIONS), name="action_valid"),
        sa.Index("ix_audit_logs_entity_record", "entity", "entity_id", "changed_at"),
        sa.Index("ix_audit_logs_client_changed_at", "client_id", "changed_at"),
    )

    def __str__(self) -> str:
        return f"{self.action} {self.entity} {self.entity_id}"


PENDING_ONLY_SQL = "status = 'pending'"


class PendingChange(UUIDKey, Timestamps, db.Model):
    """A Manager's or Leader's proposed create, edit or delete, waiting for a Coordinator."""

    __tablename__ = "pending_changes"

    entity: Mapped[str] = mapped_column(sa.String(100), index=True)
    entity_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # none for a proposed create
    operation: Mapped[str] = mapped_column(sa.String(10))
    diff_json: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    base_json: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    # The record's version when the proposer opened it (app/models/base.py Versioned); none for a create.
    base_version: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", server_default="pending", index=True)
    requested_by_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)
    rationale: Mapped[str | None] = mapped_column(sa.Text)

    requested_by = relationship("Staff", foreign_keys=[requested_by_id])
    reviewed_by = relationship("Staff", foreign_keys=[reviewed_by_id])

    __table_args__ = (
        sa.CheckConstraint(enum_check("status", PENDING_CHANGE_STATUSES), name="status_valid"),
        sa.CheckConstraint(enum_check("operation", ("create", "update", "delete")), name="operation_valid"),
        sa.CheckConstraint("operation = 'create' OR entity_id IS NOT NULL", name="entity_id_unless_create"),
        sa.CheckConstraint(
            "status NOT IN ('approved', 'declined') OR (reviewed_by_id IS NOT NULL AND reviewed_at IS NOT NULL)",
            name="reviewed_has_reviewer",
        ),
        sa.CheckConstraint(
            "status <> 'declined' OR length(trim(coalesce(rationale, ''))) > 0", name="decline_has_rationale"
        ),
        # The inbox: pending changes oldest first (migration 0015_inbox_index says why).
        sa.Index("ix_pending_changes_pending_created_at", "created_at",
                 postgresql_where=sa.text(PENDING_ONLY_SQL), sqlite_where=sa.text(PENDING_ONLY_SQL)),
    )

    def __str__(self) -> str:
        return f"{self.operation} {self.entity} ({self.status})"
